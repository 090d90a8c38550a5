// Safetensors tensors as the Float32Arrays dinotrain holds every value in (int64 num_batches_tracked included).
import type { Tensor } from './safetensors.js';

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The values as float32 (F32 returned as is), or undefined for dtypes that are not numbers (BOOL, F8). */
export function toFloat32(t: Tensor): Float32Array | undefined {
  const d = t.data;
  switch (t.dtype) {
    case 'F32':
      return d as Float32Array;
    case 'F16':
      return Float32Array.from(d as Uint16Array, halfToFloat);
    case 'BF16': {
      const bits = new Uint32Array((d as Uint16Array).length);
      (d as Uint16Array).forEach((v, i) => (bits[i] = v << 16));
      return new Float32Array(bits.buffer);
    }
    case 'I64':
    case 'U64':
      return Float32Array.from(d as BigInt64Array, Number);
    case 'F64':
    case 'I32':
    case 'U32':
    case 'I16':
    case 'U16':
    case 'I8':
    case 'U8':
      return Float32Array.from(d as ArrayLike<number>);
    default:
      return undefined;
  }
}
