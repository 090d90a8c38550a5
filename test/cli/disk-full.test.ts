// The CLI on real small and read-only disks: tmpfs mounts in a private mount namespace (unshare), so the kernel itself
// answers ENOSPC and EROFS. A checkpoint that does not fit stops the run with one line, keeps the previous checkpoint,
// and --resume works once there is room; outputs on a read-only disk are refused up front; embed and export on a
// full disk leave no partial file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'dt-disk-full-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const unshare = process.getuid?.() === 0 ? ['-m'] : ['-r', '-m'];
const canMount = spawnSync('unshare', [...unshare, 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${tmp} && umount ${tmp}`]).status === 0;
const skip = canMount ? false : 'needs unshare and tmpfs mounts (root, or unprivileged user namespaces)';

/** Runs a shell script in its own mount namespace (mounts vanish with it); `$CLI` is the built dinotrain. */
function inNamespace(script: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('unshare', [...unshare, 'bash', '-c', `set -u\nCLI="${process.execPath} ${join(root, 'bin', 'dinotrain.js')}"\n${script}`], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DINOTRAIN_DEBUG: '' },
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** The value printed as `name=value` by a script. */
const printed = (out: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1];

test('a checkpoint that does not fit: exit 1, one line naming it, previous checkpoint intact, --resume works with room', { skip }, () => {
  const d = join(tmp, 'small');
  const r = inNamespace(`
    mkdir -p ${d} && mount -t tmpfs -o size=1800k tmpfs ${d}
    $CLI pretrain --config test/fixtures/tiny-dino.yaml --data examples/images --out ${d}/run --loggers jsonl --steps 6 --checkpoint-every 3 2>${d}/../err1.txt
    echo "rc1=$?"
    echo "after1=$(ls ${d}/run/checkpoints | tr '\\n' ' ')"
    tail -n 1 ${d}/../err1.txt | sed 's/^/last1=/'
    mount -o remount,size=20m ${d}
    $CLI pretrain --config test/fixtures/tiny-dino.yaml --data examples/images --out ${d}/run --loggers jsonl --steps 6 --checkpoint-every 3 --resume 2>${d}/../err2.txt
    echo "rc2=$?"
    echo "steps=$(cut -c1-12 ${d}/run/metrics.jsonl | tr -d '{"step:,' | tr '\\n' ' ')"
    ls ${d}/run/exported_models | tr '\\n' ' ' | sed 's/^/exported=/'; echo
  `);
  assert.equal(printed(r.stdout, 'rc1'), '1', r.stdout + r.stderr);
  assert.match(printed(r.stdout, 'last1') ?? '', /^dinotrain: cannot write checkpoint .*\/run\/checkpoints\/last: no space left on device \(ENOSPC\); the previous checkpoint is intact$/);
  assert.equal(printed(r.stdout, 'after1')?.trim(), 'last step-3', 'no temporary folder is left');
  assert.equal(printed(r.stdout, 'rc2'), '0', r.stdout);
  assert.equal(printed(r.stdout, 'steps')?.trim(), '1 2 3 4 5 6');
  assert.equal(printed(r.stdout, 'exported')?.trim(), 'backbone.onnx backbone.safetensors');
});

test('outputs on a read-only disk or under a file: exit 2 naming the path and the reason, before any work', { skip }, () => {
  const ro = join(tmp, 'ro');
  const r = inNamespace(`
    mkdir -p ${ro} ${tmp}/ck && mount -t tmpfs -o ro tmpfs ${ro}
    $CLI pretrain --config test/fixtures/tiny-dino.yaml --data examples/images --out ${ro}/run --steps 1 2>&1 | tail -n 1 | sed 's/^/pretrain=/'
    echo "x" > ${tmp}/a-file
    $CLI pretrain --config test/fixtures/tiny-dino.yaml --data examples/images --out ${tmp}/a-file/run --steps 1 2>&1 | tail -n 1 | sed 's/^/notdir=/'
    $CLI pretrain --config test/fixtures/tiny-dino.yaml --data examples/images --out ${tmp}/ck/run --steps 1 --loggers jsonl >/dev/null 2>&1
    $CLI export --checkpoint ${tmp}/ck/run/checkpoints/last --out ${ro}/backbone.onnx 2>&1 | tail -n 1 | sed 's/^/export=/'
    $CLI export --checkpoint ${tmp}/ck/run/checkpoints/last --out ${ro}/backbone.onnx >/dev/null 2>&1; echo "exportrc=$?"
    $CLI embed --model ${tmp}/ck/run/exported_models/backbone.onnx --data examples/images --out ${ro}/emb.csv --quiet 2>&1 | tail -n 1 | sed 's/^/embed=/'
  `);
  assert.match(printed(r.stdout, 'pretrain') ?? '', /^dinotrain: cannot write the output folder .*\/ro\/run: read-only file system \(EROFS\)$/, r.stdout);
  assert.match(printed(r.stdout, 'notdir') ?? '', /^dinotrain: cannot write the output folder .*a-file\/run: a part of the path is a file, not a folder \(ENOTDIR\)$/);
  assert.match(printed(r.stdout, 'export') ?? '', /^dinotrain: cannot write export .*\/ro\/backbone\.onnx: read-only file system \(EROFS\)$/);
  assert.equal(printed(r.stdout, 'exportrc'), '2');
  assert.match(printed(r.stdout, 'embed') ?? '', /^dinotrain: cannot write embeddings .*\/ro\/emb\.csv: read-only file system \(EROFS\)$/);
});

test('embed, export and preview on a full disk: exit 1, the path named, no partial or temporary file', { skip }, () => {
  const full = join(tmp, 'full');
  const r = inNamespace(`
    mkdir -p ${full} ${tmp}/ck2 && mount -t tmpfs -o size=8k tmpfs ${full}
    $CLI pretrain --config test/fixtures/tiny-dino.yaml --data examples/images --out ${tmp}/ck2/run --steps 1 --loggers jsonl >/dev/null 2>&1
    $CLI embed --model ${tmp}/ck2/run/exported_models/backbone.onnx --data examples/images --out ${full}/emb.jsonl --quiet 2>${tmp}/e.txt; echo "embedrc=$?"
    tail -n 1 ${tmp}/e.txt | sed 's/^/embed=/'
    $CLI export --checkpoint ${tmp}/ck2/run/checkpoints/last --out ${full}/b.safetensors 2>${tmp}/x.txt; echo "exportrc=$?"
    tail -n 1 ${tmp}/x.txt | sed 's/^/export=/'
    $CLI preview --data examples/images --out ${full}/views.png --images 4 2>${tmp}/p.txt; echo "previewrc=$?"
    tail -n 1 ${tmp}/p.txt | sed 's/^/preview=/'
    echo "left=$(ls -A ${full} | tr '\\n' ' ')"
  `);
  assert.equal(printed(r.stdout, 'embedrc'), '1', r.stdout + r.stderr);
  assert.match(printed(r.stdout, 'embed') ?? '', /^dinotrain: cannot write embeddings .*\/full\/emb\.jsonl: no space left on device \(ENOSPC\)$/);
  assert.equal(printed(r.stdout, 'exportrc'), '1');
  assert.match(printed(r.stdout, 'export') ?? '', /^dinotrain: cannot write export .*\/full\/b\.safetensors: no space left on device \(ENOSPC\)$/);
  assert.equal(printed(r.stdout, 'previewrc'), '1');
  assert.match(printed(r.stdout, 'preview') ?? '', /^dinotrain: cannot write preview .*\/full\/views\.png: no space left on device \(ENOSPC\)$/);
  assert.equal(printed(r.stdout, 'left')?.trim(), '');
});
