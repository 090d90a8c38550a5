// The short side an image is decoded to: every crop any view can draw still has at least the view's pixels.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TransformsConfig } from '../../src/config/transforms.js';
import { sampleCropBox } from '../../src/data/crop.js';
import { decodeShortSide } from '../../src/data/decode-size.js';
import { viewSpecs, type ViewSpec } from '../../src/data/views.js';
import { Rng } from '../../src/util/rng.js';
import { DINO_TRANSFORMS } from '../../src/methods/dino/transforms.js';

function spec(size: number, scale: [number, number], ratio: [number, number]): ViewSpec {
  return { kind: 'global', size, scale, ratio, blurP: 0, solarizeP: 0 };
}

/** An rng whose uniform() returns the low or high end by a fixed pattern of bits: every extreme crop draw. */
function extremeRng(bits: number): Rng {
  let k = 0;
  return { uniform: (lo: number, hi: number) => ((bits >> k++ % 2) & 1 ? hi : lo), int: () => 0 } as unknown as Rng;
}

/** The smallest crop side sampleCropBox gives on a width x height image, over extreme and random draws. */
function smallestCropSide(s: ViewSpec, width: number, height: number): number {
  let smallest = Infinity;
  const take = (rng: Rng) => {
    const box = sampleCropBox(rng, width, height, s.scale, s.ratio);
    smallest = Math.min(smallest, box.width, box.height);
  };
  for (let bits = 0; bits < 4; bits++) take(extremeRng(bits));
  const rng = new Rng(7);
  for (let i = 0; i < 2000; i++) take(rng);
  return smallest;
}

describe('decodeShortSide', () => {
  it('DINO 224/96 px views: 693 px (global view bound); local-only views give 497', () => {
    assert.equal(decodeShortSide(viewSpecs(DINO_TRANSFORMS)), 693);
    const t: TransformsConfig = { ...DINO_TRANSFORMS, global: { ...DINO_TRANSFORMS.global, size: 32 } };
    assert.equal(decodeShortSide(viewSpecs(t)), 497);
  });

  it('every crop on an image with that short side has at least the output side, for any aspect ratio', () => {
    const cases: ViewSpec[] = [
      ...viewSpecs(DINO_TRANSFORMS),
      spec(224, [0.08, 1], [3 / 4, 4 / 3]), // SimCLR
      spec(98, [0.05, 0.32], [3 / 4, 4 / 3]), // DINOv2 local
      spec(64, [0.3, 0.6], [2, 3]), // a ratio range without 1: the fallback crop is narrower than the image
      spec(64, [0.5, 1], [0.2, 0.4]),
    ];
    for (const s of cases) {
      const side = decodeShortSide([s]);
      for (const long of [side, Math.round(side * 1.3), side * 2, side * 5]) {
        for (const [w, h] of [[side, long], [long, side]]) {
          const smallest = smallestCropSide(s, w, h);
          assert.ok(smallest >= s.size, `${s.size} px view, scale ${s.scale}, ratio ${s.ratio.map((r) => r.toFixed(2))} on ${w}x${h}: a ${smallest} px crop side`);
        }
      }
    }
  });

  it('is tight: a few pixels less and the smallest crop falls below the output side', () => {
    const s = viewSpecs(DINO_TRANSFORMS)[0];
    const side = decodeShortSide([s]) - 5;
    assert.ok(smallestCropSide(s, side, side) < s.size);
  });
});
