// LZ4 block decoding behind one interface (docs/ARCHITECTURE.md, principle 10): a pure-TS decoder (the default)
// and lz4-napi's native one. Both take the block and the 64 KiB before it (a linked
// block's dictionary) and return the block's output, or throw on malformed input.
//
// Why TS by default: lz4-napi's uncompress allocates and zero-fills its output bound per
// call in memory V8 is not told about, so its buffers pile up until a GC happens to run
// (measured: 128 MiB through --compress lz4 peaked at 175 MiB RSS with it, 90 MiB with
// the TS decoder, at the same CPU time and speed). The TS decoder reuses one scratch
// buffer of the frame's block size and copies out each block exactly.
//
// Block format (lz4_Block_format.md): sequences of
//   token (hi 4 bits: literal length, lo 4 bits: match length - 4; 15 = more bytes follow)
//   [literal length bytes] literals  offset (u16 LE, 1..65535)  [match length bytes]
// The last sequence has literals only.

import { createRequire } from 'node:module';

export class Lz4BlockError extends Error {
  readonly code = 'ERR_LZ4_BLOCK';
  constructor(message: string) {
    super(message);
    this.name = 'Lz4BlockError';
  }
}

export interface Lz4BlockDecoder {
  readonly name: string;
  /**
   * The decoder allocates (and touches) `maxBytes` for every block: give it a tight
   * bound (lz4-napi zero-fills a vector of that size that V8 does not account for).
   */
  readonly wantsTightCapacity: boolean;
  /**
   * Decodes one block into a new buffer of exactly its size (the caller may keep it);
   * `dict` is what precedes it in the output (linked blocks), possibly empty. Throws
   * Lz4BlockError when the block is malformed or decodes to more than `maxBytes`.
   */
  decode(block: Uint8Array, dict: Uint8Array, maxBytes: number): Promise<Uint8Array>;
}

/** Below this length a byte loop beats set()/copyWithin() and their subarray allocations. */
const SHORT_COPY = 32;

/**
 * Pure TS. Decodes into `out` (at least the block's output size), returns the output
 * length. Never reads or writes outside its buffers whatever the input.
 */
export function decodeLz4BlockInto(src: Uint8Array, dict: Uint8Array, out: Uint8Array, maxBytes = out.byteLength): number {
  let s = 0;
  let d = 0;
  const n = src.byteLength;
  const fail = (what: string): never => {
    throw new Lz4BlockError(`corrupt LZ4 block: ${what} at input byte ${s}`);
  };
  for (;;) {
    if (s >= n) fail('missing token');
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      for (;;) {
        if (s >= n) fail('truncated literal length');
        const b = src[s++]!;
        lit += b;
        if (b !== 255) break;
      }
    }
    if (s + lit > n) fail('literals past the end of the block');
    if (d + lit > maxBytes) fail('output larger than the block size');
    if (lit < SHORT_COPY) {
      for (let k = 0; k < lit; k++) out[d + k] = src[s + k]!;
    } else {
      out.set(src.subarray(s, s + lit), d);
    }
    s += lit;
    d += lit;
    if (s === n) break; // the last sequence: literals only
    if (s + 2 > n) fail('truncated match offset');
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0) fail('zero match offset');
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      for (;;) {
        if (s >= n) fail('truncated match length');
        const b = src[s++]!;
        len += b;
        if (b !== 255) break;
      }
    }
    if (d + len > maxBytes) fail('output larger than the block size');
    if (offset > d + dict.byteLength) fail('match offset before the start of the data');
    let from = d - offset;
    // Part of the match may come from the dictionary (the previous block's tail).
    while (from < 0 && len > 0) {
      const take = Math.min(-from, len);
      const at = dict.byteLength + from;
      out.set(dict.subarray(at, at + take), d);
      d += take;
      from += take;
      len -= take;
    }
    if (len < SHORT_COPY) {
      // Forward byte copy: also right for overlapping matches (a repeating pattern).
      for (let k = 0; k < len; k++) out[d + k] = out[from + k]!;
    } else if (d - from >= len) {
      out.copyWithin(d, from, from + len);
    } else {
      // A long overlapping match repeats the last `period` bytes: place one period, then
      // double what is placed (always a whole number of periods) until the match is done.
      const period = d - from;
      out.copyWithin(d, from, d);
      for (let placed = period; placed < len; ) {
        const take = Math.min(placed, len - placed);
        out.copyWithin(d + placed, d, d + take);
        placed += take;
      }
    }
    d += len;
  }
  return d;
}

/** Pure TS, allocating its output. */
export function decodeLz4Block(src: Uint8Array, dict: Uint8Array, maxBytes: number): Uint8Array {
  const out = new Uint8Array(maxBytes);
  return out.subarray(0, decodeLz4BlockInto(src, dict, out, maxBytes));
}

/** The TS decoder with one scratch buffer reused across blocks; the result is an exact copy. */
export function tsLz4Decoder(): Lz4BlockDecoder {
  let scratch = new Uint8Array(0);
  return {
    name: 'ts',
    wantsTightCapacity: false,
    async decode(block, dict, maxBytes) {
      if (scratch.byteLength < maxBytes) scratch = new Uint8Array(maxBytes);
      const n = decodeLz4BlockInto(block, dict, scratch, maxBytes);
      return scratch.slice(0, n);
    },
  };
}

type Lz4Napi = typeof import('lz4-napi');

let napi: Lz4Napi | null | undefined;

/** lz4-napi, or null when its prebuilt binary does not load on this platform. */
export function loadLz4Napi(): Lz4Napi | null {
  if (napi === undefined) {
    try {
      napi = createRequire(import.meta.url)('lz4-napi') as Lz4Napi;
    } catch {
      napi = null;
    }
  }
  return napi;
}

/**
 * lz4-napi's `uncompress` wants lz4_flex's size-prepended block: a u32 LE (the output
 * capacity) before the block. `block` must start 4 bytes into its buffer so the prefix is
 * written in place instead of copying the block.
 */
export function napiLz4Decoder(lz: Lz4Napi): Lz4BlockDecoder {
  return {
    name: 'lz4-napi',
    wantsTightCapacity: true,
    async decode(block, dict, maxBytes) {
      if (block.byteOffset < 4) throw new RangeError('napi LZ4 decode needs 4 bytes of headroom before the block');
      const framed = new Uint8Array(block.buffer, block.byteOffset - 4, block.byteLength + 4);
      new DataView(framed.buffer, framed.byteOffset, 4).setUint32(0, maxBytes, true);
      try {
        const out = dict.byteLength > 0 ? await lz.uncompress(framed, dict) : await lz.uncompress(framed);
        // A copy V8 accounts for: napi-rs does not report its buffers as external memory,
        // so without allocations V8 sees, they would pile up before any GC frees them.
        return Buffer.from(out);
      } catch (e) {
        throw new Lz4BlockError(`corrupt LZ4 block: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/** The receiver's decoder (see the top of this file for why it is the TS one). */
export function defaultLz4Decoder(): Lz4BlockDecoder {
  return tsLz4Decoder();
}
