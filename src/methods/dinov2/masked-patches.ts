// Which patch tokens the iBOT loss reads: dinov2's collate builds mask_indices_list (flat indices of the masked
// patches over [images, patches]) and masks_weight (1 / masked patches of each one's image). The graphs gather those
// rows, so the head runs on the masked patches only. A batch without any masked patch gets one padding row of weight 0
// (index 0), which keeps every tensor non-empty and contributes nothing.

export interface MaskedPatches {
  /** flat indices image·patches + patch of the masked patches, image-major (padding: [0]) */
  index: BigInt64Array;
  /** 1 / masked patches of the row's image (padding: 0) */
  weight: Float32Array;
  /** number of real masked patches (0 when only the padding row is there) */
  count: number;
  /** the masks as 0/1 floats [images·patches] for the student's mask token */
  dense: Float32Array;
}

/** @param masks [images, patches] 1 = masked (the loader's Batch.masks) */
export function maskedPatches(masks: Uint8Array, images: number, patches: number): MaskedPatches {
  if (masks.length < images * patches) throw new Error(`masks hold ${masks.length} values, expected ${images}×${patches}`);
  const dense = new Float32Array(images * patches);
  let count = 0;
  for (let i = 0; i < images * patches; i++) if (masks[i]) {
    dense[i] = 1;
    count++;
  }
  if (count === 0) return { index: BigInt64Array.of(0n), weight: Float32Array.of(0), count: 0, dense };
  const index = new BigInt64Array(count);
  const weight = new Float32Array(count);
  let k = 0;
  for (let r = 0; r < images; r++) {
    const start = k;
    for (let p = 0; p < patches; p++) if (dense[r * patches + p]) index[k++] = BigInt(r * patches + p);
    weight.fill(1 / (k - start), start, k);
  }
  return { index, weight, count, dense };
}
