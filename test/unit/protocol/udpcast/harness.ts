// What udpcast's messages check beyond test/support/codec-cases.ts: golden bytes recorded
// from Debian's binaries, decodeUdpcastDatagram as the one entry point, and fuzz streams
// that put random bytes behind the message's opcode.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Result } from '../../../../protocol/result.js';
import { decodeUdpcastDatagram } from '../../../../protocol/udpcast/codec.js';
import { type Codec, type CodecFamily, encodeToBytes, type GoldenCase, toHex } from '../../../support/codec-cases.js';
import { mulberry32 } from '../../../support/prng.js';

export { encodeToBytes, expectErr, toHex } from '../../../support/codec-cases.js';

/** The block size of the recorded sessions (udpcast's default). */
export const RECORDED_BLOCK_BYTES = 1456;

export function fromHex(hex: string): Uint8Array {
  const h = hex.replace(/\s+/g, '');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fixtureText(name: string): string {
  return readFileSync(new URL(`../../../fixtures/udpcast/${name}.hex`, import.meta.url), 'utf8');
}

/** One recorded datagram: test/fixtures/udpcast/<name>.hex (a `#` line, then hex). */
export function recorded(name: string): Uint8Array {
  return fromHex(
    fixtureText(name)
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join(''),
  );
}

/** test/fixtures/udpcast/<name>.hex as the stored side of a golden case. */
export function recordedFile(name: string): NonNullable<GoldenCase<unknown>['stored']> {
  return { path: `test/fixtures/udpcast/${name}.hex`, read: () => recorded(name) };
}

/** Every datagram of a recorded session, with the comment line that names it. */
export function recordedSession(name: string): { readonly note: string; readonly bytes: Uint8Array }[] {
  const lines = fixtureText(`session-${name}`).split('\n');
  const out: { note: string; bytes: Uint8Array }[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.startsWith('#') && i + 1 < lines.length && !lines[i + 1]!.startsWith('#')) out.push({ note: lines[i]!, bytes: fromHex(lines[i + 1]!) });
  }
  return out;
}

export type UdpcastCodec<T> = Codec<T>;

/** Encodes at an offset inside a larger buffer and decodes back from a view with a non-zero byteOffset. */
export function expectRoundTrip<T>(c: UdpcastCodec<T>, m: T): void {
  const len = c.length(m);
  const buf = new Uint8Array(len + 10).fill(0xee);
  expect(c.encode(m, buf, 5)).toBe(len);
  expect(buf.subarray(0, 5).every((x) => x === 0xee) && buf.subarray(5 + len).every((x) => x === 0xee)).toBe(true);
  const r = c.decode(buf.subarray(5, 5 + len));
  expect(r.ok).toBe(true);
  if (r.ok) expect(toHex(encodeToBytes(c, r.value))).toBe(toHex(buf.subarray(5, 5 + len)));
}

/** The family hooks of test/support/codec-cases.ts for the udpcast message with this opcode. */
export function udpcastFamily<T>(c: UdpcastCodec<T>, opcode: number): CodecFamily<T> {
  return {
    datagram: { name: 'decodeUdpcastDatagram', decode: (b) => decodeUdpcastDatagram(b, RECORDED_BLOCK_BYTES) },
    expectRoundTrip: (msg) => {
      expectRoundTrip(c, msg);
    },
    fuzz: (seed, valid, rounds) => fuzz(c, opcode, seed, valid, rounds),
  };
}

/**
 * Seeded random bytes, random bytes behind the right opcode, and mutations of valid
 * encodings: neither the decoder nor decodeUdpcastDatagram may throw, and whatever decodes
 * must encode to bytes that decode to the same value (fields the decoder ignores are
 * written as zeros). Returns how many mutations decoded.
 */
export function fuzz<T>(c: UdpcastCodec<T>, opcode: number, seed: number, valid: readonly Uint8Array[], rounds = 5000): number {
  const rand = mulberry32(seed);
  const n = (k: number): number => Math.floor(rand() * k);
  let mutationsOk = 0;
  const check = (input: Uint8Array, where: string): boolean => {
    let r: Result<T>;
    try {
      r = c.decode(input);
      decodeUdpcastDatagram(input, RECORDED_BLOCK_BYTES);
    } catch (e) {
      throw new Error(`decoder threw (seed 0x${seed.toString(16)}, ${where}, input ${toHex(input)}): ${String(e)}`);
    }
    if (!r.ok) return false;
    const again = c.decode(encodeToBytes(c, r.value));
    if (!again.ok || toHex(encodeToBytes(c, again.value)) !== toHex(encodeToBytes(c, r.value))) {
      expect.fail(`re-encode differs (seed 0x${seed.toString(16)}, ${where}, input ${toHex(input)})`);
    }
    return true;
  };
  for (let i = 0; i < rounds; i++) {
    const b = new Uint8Array(n(200));
    for (let j = 0; j < b.length; j++) b[j] = n(256);
    check(b, `random #${i}`);
    if (b.length >= 2) {
      b[0] = opcode >> 8;
      b[1] = opcode & 0xff;
      check(b, `headed #${i}`);
    }
  }
  for (let i = 0; i < rounds; i++) {
    let b = valid[n(valid.length)]!.slice();
    for (let e = 1 + n(3); e > 0; e--) {
      const op = n(4);
      const at = n(Math.max(1, b.length));
      if (op === 0 && b.length > 0) b[at]! ^= 1 << n(8);
      else if (op === 1 && b.length > 0) b[at] = [0, 0xff, 0x7f, 0x80][n(4)]!;
      else if (op === 2) b = b.slice(0, at);
      else {
        const g = new Uint8Array(b.length + 1 + n(4));
        g.set(b);
        b = g;
      }
    }
    if (check(b, `mutation #${i}`)) mutationsOk++;
  }
  return mutationsOk;
}
