// Memory aligned for O_DIRECT (receiver/disk.ts): the kernel moves it to the device without
// the page cache only when the buffer's address, the file offset and the length are all
// multiples of the device's logical block size (512 or 4096 bytes; 4096 covers both).
// JavaScript cannot see an address, so the native UDP addon says where the first aligned byte
// of a buffer is; without the addon there is no aligned memory, and writes stay buffered.

import { loadUdpAddon } from '../native/udp-addon.js';

export const DIRECT_IO_ALIGN = 4096;

/** `bytes` of fresh memory (a multiple of DIRECT_IO_ALIGN) at an aligned address, or undefined without the native addon. */
export function alignedBuffer(bytes: number): Uint8Array | undefined {
  if (bytes % DIRECT_IO_ALIGN !== 0) throw new RangeError(`alignedBuffer: ${bytes} is not a multiple of ${DIRECT_IO_ALIGN}`);
  const load = loadUdpAddon();
  if (!load.ok) return undefined;
  const raw = new Uint8Array(bytes + DIRECT_IO_ALIGN);
  const at = load.addon.alignOffset(raw, DIRECT_IO_ALIGN);
  return raw.subarray(at, at + bytes);
}

/** Whether the view starts at an aligned address (false without the native addon). */
export function isAligned(view: Uint8Array): boolean {
  const load = loadUdpAddon();
  return load.ok && load.addon.alignOffset(view, DIRECT_IO_ALIGN) === 0;
}
