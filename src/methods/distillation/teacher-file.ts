// The teacher file as a run sees it before any session exists: its SHA-256 (recorded in config.json and checked on
// resume, so a run never continues against another teacher) and, for an ONNX teacher, its metadata and the shapes of
// its inputs and outputs. Read synchronously once per file and cached, because the definition's checks and the
// resume probes ask for it several times.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { readModelMetadata } from '../../formats/onnx-metadata.js';
import { readOnnxIo, type OnnxIo } from '../../formats/onnx-io.js';
import { UserError } from '../../util/errors.js';

export interface TeacherFile {
  path: string;
  kind: 'onnx' | 'safetensors';
  sha256: string;
  /** ONNX: metadata_props and graph inputs/outputs */
  metadata: Record<string, string>;
  io?: OnnxIo;
}

const cache = new Map<string, { key: string; file: TeacherFile }>();
const CHUNK = 1 << 22;

function hashAndHead(path: string, size: number, headBytes: number): { sha256: string; head: Uint8Array } {
  const hash = createHash('sha256');
  const head = new Uint8Array(Math.min(size, headBytes));
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  try {
    for (let pos = 0; pos < size; ) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
      if (n === 0) break;
      if (pos < head.length) head.set(buf.subarray(0, Math.min(n, head.length - pos)), pos);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), head };
}

/** The teacher at `path` (an .onnx model or a .safetensors state dict); a UserError naming the path otherwise. */
export function readTeacherFile(path: string): TeacherFile {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--teacher ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (e as Error).message})`}`);
  }
  if (st.isDirectory()) throw new UserError(`--teacher ${path}: is a folder; give an .onnx model or a .safetensors file`);
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(path);
  if (hit?.key === key) return hit.file;
  const kind = path.toLowerCase().endsWith('.safetensors') ? 'safetensors' : 'onnx';
  let read;
  try {
    // the ONNX header walk needs the whole protobuf (the graph's value infos follow its initializers)
    read = hashAndHead(path, st.size, kind === 'onnx' ? st.size : 0);
  } catch (e) {
    throw new UserError(`--teacher ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const file: TeacherFile = { path, kind, sha256: read.sha256, metadata: {} };
  if (kind === 'onnx') {
    try {
      file.metadata = readModelMetadata(read.head);
      file.io = readOnnxIo(read.head);
    } catch (e) {
      throw new UserError(`--teacher ${path}: not an ONNX model (${(e as Error).message}); a safetensors teacher needs the .safetensors extension`);
    }
  }
  cache.set(path, { key, file });
  return file;
}
