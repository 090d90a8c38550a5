// NumPy .npy (format 1.0) encoding of a float32 C-order matrix.
import { endianness } from 'node:os';

export function encodeNpyFloat32(data: Float32Array, shape: number[]): Buffer {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in '\n'.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  let body: Buffer;
  if (endianness() === 'LE') {
    body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } else {
    body = Buffer.alloc(data.length * 4);
    for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], i * 4);
  }
  return Buffer.concat([head, body]);
}
