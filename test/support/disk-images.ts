// Images and write orders for the tests of the disk writer (receiver/disk.ts) and of
// writing at offsets (a receiver that joined late), on files and on block devices.

import { createHash, randomBytes } from 'node:crypto';
import type { DiskSink } from '../../receiver/disk.js';
import type { OffsetSink } from '../../receiver/sink-types.js';
import { mulberry32 } from './prng.js';

const MiB = 1 << 20;
/** A slice as the driver delivers it: 127 blocks of 1456 bytes + 432. */
export const SLICE_BYTES = 185_344;

/** An image with data, long zero runs and a zero tail. */
export function imageWithZeroRuns(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let off = 0; off < bytes; off += 3 * MiB) randomBytes(Math.min(MiB + 1234, bytes - off)).copy(b, off);
  b.fill(0, bytes - 2 * MiB);
  return b;
}

/** Writes `data` in pieces of `sizes` (cycled). */
export async function writeAll(sink: DiskSink, data: Buffer, sizes: readonly number[]): Promise<void> {
  let i = 0;
  for (let off = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    await sink.write(data.subarray(off, off + n));
    off += n;
  }
}

/** Random data with a 2 MiB zero run (holes) inside the head and a zero tail (the end is a hole: the size comes from ftruncate). */
export function sliceImage(bytes: number): Buffer {
  const b = randomBytes(bytes);
  b.fill(0, MiB, 3 * MiB);
  b.fill(0, bytes - 300_000);
  return b;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A seeded order of 0..n-1, reproducible from the printed seed. */
export function shuffled(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export function sliceCount(bytes: number): number {
  return Math.ceil(bytes / SLICE_BYTES);
}

/** The late joiner's order: slices J..end with the others, then the head 0..J-1 by repair. */
export function lateJoinOrder(n: number, j: number): number[] {
  return [...Array.from({ length: n - j }, (_, i) => j + i), ...Array.from({ length: j }, (_, i) => i)];
}

export async function writeSlices(sink: OffsetSink, data: Buffer, order: readonly number[]): Promise<void> {
  for (const i of order) await sink.writeAt(i * SLICE_BYTES, data.subarray(i * SLICE_BYTES, (i + 1) * SLICE_BYTES));
}
