// iBOT block masks (DINOv2).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchMasks, blockMask, DEFAULT_MASK_OPTIONS, type MaskBlock } from '../../src/data/masks.js';
import { Rng } from '../../src/util/rng.js';

const H = 16;
const W = 16;
const N = H * W;

function countRow(masks: Uint8Array, row: number): number {
  let s = 0;
  for (let i = row * N; i < (row + 1) * N; i++) s += masks[i];
  return s;
}

describe('batchMasks', () => {
  it('masks exactly half of the images; the others are all false', () => {
    for (let seed = 0; seed < 10; seed++) {
      const n = 32;
      const masks = batchMasks(new Rng(seed), n, H, W);
      assert.equal(masks.length, n * N);
      let empty = 0;
      for (let r = 0; r < n; r++) if (countRow(masks, r) === 0) empty++;
      assert.equal(empty, n / 2);
    }
  });

  it('masked fractions lie in [0.1, 0.5] and spread across the range (linspace of ratios)', () => {
    const fractions: number[] = [];
    for (let seed = 0; seed < 20; seed++) {
      const masks = batchMasks(new Rng(seed), 16, H, W);
      for (let r = 0; r < 16; r++) {
        const c = countRow(masks, r);
        if (c > 0) fractions.push(c / N);
      }
    }
    assert.equal(fractions.length, 20 * 8);
    // Blocks of >= 4 patches can fall a few patches short of the target when none fits in 10 tries.
    for (const f of fractions) assert.ok(f >= 0.1 - 8 / N && f <= 0.5, `fraction ${f}`);
    fractions.sort((a, b) => a - b);
    assert.ok(fractions[0] < 0.16, `smallest ${fractions[0]}`);
    assert.ok(fractions[fractions.length - 1] > 0.44, `largest ${fractions[fractions.length - 1]}`);
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    assert.ok(Math.abs(mean - 0.3) < 0.03, `mean ${mean}`);
  });

  it('every mask is a union of rectangles of >= 4 patches with aspect ratio in [0.3, 3.3]', () => {
    const n = 24;
    const blocks: { row: number; block: MaskBlock }[] = [];
    const masks = batchMasks(new Rng(5), n, H, W, DEFAULT_MASK_OPTIONS, undefined, (row, block) => blocks.push({ row, block }));
    assert.ok(blocks.length > n / 2);
    const union = new Uint8Array(n * N);
    for (const { row, block } of blocks) {
      assert.ok(block.height * block.width >= 4, `block ${JSON.stringify(block)}`);
      const aspect = block.height / block.width;
      // Each side is rounded to a whole patch, so the aspect ratio can stray past the drawn one.
      assert.ok(aspect >= 0.2 && aspect <= 5, `aspect ${aspect}`);
      assert.ok(block.top + block.height <= H && block.left + block.width <= W);
      for (let y = block.top; y < block.top + block.height; y++) {
        for (let x = block.left; x < block.left + block.width; x++) union[row * N + y * W + x] = 1;
      }
    }
    assert.deepEqual(masks, union);
  });

  it('is a pure function of the generator state', () => {
    const a = batchMasks(new Rng(9), 8, 14, 14);
    const b = batchMasks(new Rng(9), 8, 14, 14);
    const c = batchMasks(new Rng(10), 8, 14, 14);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

describe('blockMask', () => {
  it('never exceeds the target and reaches it closely on a roomy grid', () => {
    for (let seed = 0; seed < 30; seed++) {
      const target = 20 + seed * 3;
      const mask = new Uint8Array(N);
      const count = blockMask(new Rng(seed), H, W, target, mask);
      assert.equal(count, mask.reduce((a, b) => a + b, 0));
      assert.ok(count <= target && count >= target - 6, `target ${target}, got ${count}`);
    }
  });
});
