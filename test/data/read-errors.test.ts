// Unreadable files and folders are reported with the reason a user can act on, not libvips' guess.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import sharp, { type SharpOptions } from 'sharp';
import { decodeImage } from '../../src/data/decode.js';
import { DataLoader } from '../../src/data/loader.js';
import { describeSkippedFolders, ImageFileList, scanImageFolder } from '../../src/data/scan.js';
import { DINO_TRANSFORMS } from '../../src/methods/dino/transforms.js';

const CHILD = join(import.meta.dirname, '../fixtures/data/read-as-child.ts');
const NOBODY = 65534;

let dir: string;
let photo: Buffer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-errors-'));
  chmodSync(dir, 0o755); // the unprivileged child must reach it
  photo = await sharp(join(import.meta.dirname, '../../examples/images/astronaut-0.jpg')).resize(160, 120).jpeg().toBuffer();
});
after(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

async function reason(path: string): Promise<string> {
  try {
    await decodeImage(path);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${path} decoded`);
}

/**
 * Runs read-as-child.ts without root's right to read every file: in this process when not root, else in a
 * child under `setpriv` as nobody. Skips the test when neither is possible.
 */
function unprivileged(t: TestContext, op: 'decode' | 'scan', path: string): Record<string, unknown> | undefined {
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? 'setpriv' : process.execPath;
  const args = ['--import', 'tsx', CHILD, op, path];
  const r = spawnSync(command, asRoot ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...args] : args, { encoding: 'utf8' });
  const line = r.stdout?.trim().split('\n').at(-1);
  if (r.status !== 0 || !line?.startsWith('{')) {
    t.skip(`cannot run as an unprivileged user: ${r.error?.message ?? r.stderr?.trim().split('\n')[0]}`);
    return undefined;
  }
  return JSON.parse(line) as Record<string, unknown>;
}

describe('reasons for unreadable image files', () => {
  it('a file without read permission: "permission denied", not "unsupported image format"', (t) => {
    const path = join(dir, 'locked.jpg');
    writeFileSync(path, photo);
    chmodSync(path, 0o000);
    const r = unprivileged(t, 'decode', path);
    if (r) assert.equal(r.error, 'permission denied (EACCES)');
  });

  it('a folder named like an image, a missing file, a dangling symbolic link, an empty file, a text file', async () => {
    mkdirSync(join(dir, 'folder.jpg'));
    assert.equal(await reason(join(dir, 'folder.jpg')), 'is a directory, not a file (EISDIR)');
    assert.equal(await reason(join(dir, 'missing.jpg')), 'file not found (ENOENT)');
    symlinkSync(join(dir, 'nowhere.jpg'), join(dir, 'dangling.jpg'));
    assert.equal(await reason(join(dir, 'dangling.jpg')), 'file not found (ENOENT)');
    writeFileSync(join(dir, 'empty.png'), '');
    assert.equal(await reason(join(dir, 'empty.png')), 'empty file (0 bytes)');
    writeFileSync(join(dir, 'notes.jpg'), 'just some text');
    assert.match(await reason(join(dir, 'notes.jpg')), /^not an image: the contents match no supported format/);
  });

  it('truncated JPEG, PNG, WebP and GIF files are called truncated, even with many decodes in flight', async () => {
    const sources = {
      jpg: await sharp({ create: { width: 600, height: 400, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } } as SharpOptions).jpeg().toBuffer(),
      png: await sharp(photo).png().toBuffer(),
      webp: await sharp(photo).webp().toBuffer(),
      gif: await sharp(photo).gif().toBuffer(),
    };
    const names: Record<string, string> = { jpg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF' };
    const jobs: Promise<[string, string]>[] = [];
    for (const [ext, bytes] of Object.entries(sources)) {
      for (let i = 1; i < 16; i++) {
        const path = join(dir, `cut-${i}.${ext}`);
        writeFileSync(path, bytes.subarray(0, Math.floor((bytes.length * i) / 16)));
        jobs.push(reason(path).then((m) => [ext, m]));
      }
    }
    // with several decodes in flight libvips' messages get lost ("Unknown error") or swapped between files
    for (const [ext, message] of await Promise.all(jobs)) assert.match(message, new RegExp(`^truncated ${names[ext]} file \\(`), `${ext}: ${message}`);
  });

  it('a JPEG corrupt in the middle keeps the decoder’s own words', async () => {
    const bytes = Buffer.from(readFileSync(join(import.meta.dirname, '../../examples/images/astronaut-0.jpg')));
    const sos = bytes.indexOf(Buffer.from([0xff, 0xda]));
    bytes.fill(0xff, sos + 40, sos + 400);
    writeFileSync(join(dir, 'garbled.jpg'), bytes);
    assert.match(await reason(join(dir, 'garbled.jpg')), /^corrupt JPEG data: .+/);
  });

  it('the loader’s warning names the file and gives the reason', async () => {
    const root = join(dir, 'dataset');
    mkdirSync(root);
    for (let i = 0; i < 4; i++) writeFileSync(join(root, `ok${i}.jpg`), photo);
    const good = await scanImageFolder(root);
    const paths = Array.from({ length: good.length }, (_, i) => good.relativePath(i));
    const files = ImageFileList.fromRelativePaths(root, [...paths, 'gone.jpg']);
    const warnings: string[] = [];
    const loader = new DataLoader({ files, transforms: DINO_TRANSFORMS, batchSize: 5, seed: 0, onWarning: (m) => warnings.push(m) });
    await loader.next();
    await loader.close();
    assert.deepEqual(warnings, [`Skipping unreadable image ${join(root, 'gone.jpg')}: file not found (ENOENT)`]);
  });
});

describe('unreadable folders', () => {
  it('are skipped, listed with the reason in skippedFolders, and worded for one warning', async (t) => {
    const root = join(dir, 'tree');
    for (const sub of ['open', 'locked', 'open/deeper-locked']) mkdirSync(join(root, sub), { recursive: true });
    for (const f of ['a.jpg', 'open/b.jpg', 'locked/c.jpg', 'open/deeper-locked/d.jpg']) writeFileSync(join(root, f), photo);
    const lockedOnly = join(dir, 'locked-only'); // its one image is in an unreadable folder
    mkdirSync(join(lockedOnly, 'inside'), { recursive: true });
    writeFileSync(join(lockedOnly, 'inside/e.jpg'), photo);
    const locked = [join(root, 'locked'), join(root, 'open/deeper-locked'), join(lockedOnly, 'inside')];
    for (const folder of locked) chmodSync(folder, 0o000);
    try {
      const r = unprivileged(t, 'scan', root);
      if (!r) return;
      assert.deepEqual(r.paths, ['a.jpg', 'open/b.jpg']);
      const skipped = r.skippedFolders as { path: string; reason: string }[];
      assert.deepEqual(skipped.map((f) => f.path), ['locked', 'open/deeper-locked']);
      for (const f of skipped) assert.equal(f.reason, 'permission denied (EACCES)');
      const none = unprivileged(t, 'scan', lockedOnly);
      assert.match(none?.error as string, /^No image files found in .*; 1 folder\(s\) could not be read and were skipped: inside \(permission denied \(EACCES\)\)$/);
    } finally {
      for (const folder of locked) chmodSync(folder, 0o755);
    }
  });

  it('describeSkippedFolders: one line naming them, none when none', () => {
    assert.equal(describeSkippedFolders([]), undefined);
    const many = Array.from({ length: 7 }, (_, i) => ({ path: `f${i}`, reason: 'permission denied (EACCES)' }));
    assert.equal(
      describeSkippedFolders(many.slice(0, 2)),
      '2 folder(s) could not be read and were skipped: f0 (permission denied (EACCES)), f1 (permission denied (EACCES))',
    );
    assert.match(describeSkippedFolders(many) as string, /^7 folder\(s\) .*f4 \(permission denied \(EACCES\)\), and 2 more$/);
  });
});
