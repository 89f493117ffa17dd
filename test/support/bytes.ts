// Byte helpers shared by the tests, the simulator and the fuzz harness.

import { mulberry32 } from './prng.js';

/** The parts of a Transmit as one datagram, as dgram sends them (always a fresh copy). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Deterministic, position-dependent bytes (no two blocks of an image alike). */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8) * 7 + seed * 101) & 255;
  return out;
}

/** Seeded random bytes: the simulator's image for `seed`. */
export function randomImage(bytes: number, seed: number): Uint8Array {
  const rnd = mulberry32(seed ^ 0x5eed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (rnd() * 256) | 0;
  return out;
}
