// Why an image file could not be decoded, in words a user can act on. sharp reports a file it cannot
// open (no permission, a directory) as "unsupported image format", and with several decodes in flight
// libvips' per-thread error buffer can come back empty ("Unknown error") or hold another file's
// message. So a failed decode is explained from the file itself: what the OS says when it is opened
// and read, whether it is empty, which format its first bytes announce and whether it is cut short.
import { open, type FileHandle } from 'node:fs/promises';
import { osReason } from './os-error.js';

type Format = 'JPEG' | 'PNG' | 'GIF' | 'WebP' | 'TIFF' | 'AVIF/HEIF';

/** What libvips' loaders call each format in their messages. */
const LOADER_WORDS: Record<Format, RegExp> = {
  JPEG: /jpe?g/i,
  PNG: /png/i,
  GIF: /gif/i,
  WebP: /webp/i,
  TIFF: /tiff/i,
  'AVIF/HEIF': /heif|avif/i,
};

const TAIL_BYTES = 64;

/** Formats whose truncation truncation() can tell from the file's length or last bytes. */
const HAS_END_CHECK = new Set<Format>(['JPEG', 'PNG', 'GIF', 'WebP']);

/** The reason to report for a decode of `path` that failed with `err` (sharp's error). */
export async function explainReadFailure(path: string, err: unknown): Promise<string> {
  const message = err instanceof Error ? err.message : String(err);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    if (size === 0) return 'empty file (0 bytes)';
    const head = Buffer.alloc(Math.min(32, size));
    await fh.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(TAIL_BYTES, size));
    await fh.read(tail, 0, tail.length, size - tail.length);
    if (/pixel limit/i.test(message)) return message;
    const format = sniffFormat(head);
    if (!format) return 'not an image: the contents match no supported format (JPEG, PNG, WebP, TIFF, GIF, AVIF)';
    const cut = truncation(format, head, tail, size);
    if (cut) return `truncated ${format} file (${cut})`;
    const what = HAS_END_CHECK.has(format) ? `corrupt ${format} data` : `corrupt or truncated ${format} data`;
    const detail = loaderDetail(message, format, path);
    return detail ? `${what}: ${detail}` : what;
  } catch (fsErr) {
    return osReason(fsErr) ?? message;
  } finally {
    await fh?.close().catch(() => {});
  }
}

function sniffFormat(head: Buffer): Format | undefined {
  const ascii = (from: number, to: number) => head.toString('latin1', from, to);
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'JPEG';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'PNG';
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'TIFF';
  if (ascii(4, 8) === 'ftyp') return 'AVIF/HEIF';
  return undefined;
}

/** How the file is cut short, when its format has an end marker or a declared length it lacks. */
function truncation(format: Format, head: Buffer, tail: Buffer, size: number): string | undefined {
  switch (format) {
    case 'JPEG': // entropy-coded data escapes 0xFF, so FF D9 near the end can only be the end-of-image marker
      return tail.includes(Buffer.from([0xff, 0xd9])) ? undefined : 'no end-of-image marker';
    case 'PNG':
      return tail.includes('IEND') ? undefined : 'no IEND chunk';
    case 'GIF':
      return tail[tail.length - 1] === 0x3b ? undefined : 'no trailer byte';
    case 'WebP': {
      if (head.length < 8) return 'header cut short';
      const declared = head.readUInt32LE(4) + 8;
      return size < declared ? `${size} of ${declared} bytes` : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * sharp's own words, kept only from lines that this format's loader or this file's name starts ("VipsJpeg:
 * premature end of JPEG image", "<path>: bad seek to 1234"): libvips' error buffer can also hold lines of
 * other decodes in flight. Without the prefixes, deduplicated, at most two.
 */
function loaderDetail(message: string, format: Format, path: string): string | undefined {
  const details = new Set<string>();
  for (const line of message.split('\n')) {
    const text = line.replace(/^Input file has corrupt header:\s*/, '').trim();
    const colon = text.indexOf(': ');
    if (colon < 0) continue;
    const source = text.slice(0, colon);
    if (source === path || (!source.includes('/') && LOADER_WORDS[format].test(source))) {
      details.add(text.slice(colon + 2).replace(/^corrupt \S+ data:\s*/i, ''));
    }
  }
  return details.size === 0 ? undefined : [...details].slice(0, 2).join('; ');
}
