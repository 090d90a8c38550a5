import { maskedCrc32c } from './crc32c.js';

/**
 * One TFRecord: uint64 length (LE), masked CRC32C of those 8 bytes, the data, masked CRC32C of the data.
 * Returned as one buffer so a single write call puts the whole record on disk.
 */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}
