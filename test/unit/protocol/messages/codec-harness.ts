// What rackcast's own messages check beyond test/support/codec-cases.ts: decodeDatagram
// must agree with each message's decoder, a round trip must give back the very message,
// and the fuzz streams put random bytes behind a valid header of the message's type.
// Each message's test file states its own cases.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { decodeDatagram } from '../../../../protocol/codec.js';
import { HEADER_SIZE, MAGIC, MESSAGE_TYPE_NAMES, type MessageType, VERSION } from '../../../../protocol/header.js';
import type { Result } from '../../../../protocol/result.js';
import { type Codec, type CodecFamily, encodeToBytes, type GoldenCase, toHex } from '../../../support/codec-cases.js';
import { mulberry32 } from '../../../support/prng.js';

export { encodeToBytes, expectErr, toHex, withTrailing } from '../../../support/codec-cases.js';

export interface CodecUnderTest<T> extends Codec<T> {
  readonly type: MessageType;
  /**
   * Whether decoding then re-encoding must give back exactly the input. True for every
   * fixed layout (reserved bytes are checked, so only one encoding is accepted); REPORT
   * and LEAVE carry UTF-8 text that the decoder repairs, so they say when it holds.
   */
  readonly reencodes?: (bytes: Uint8Array) => boolean;
}

// ---- hex ----

/** Hex with any whitespace and `#` comments (one per line) removed, lower case. */
export function normalizeHex(text: string): string {
  const hex = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').replace(/\s+/g, ''))
    .join('')
    .toLowerCase();
  if (!/^([0-9a-f]{2})*$/.test(hex)) throw new Error(`not an even-length hex string: ${hex}`);
  return hex;
}

export function fromHex(text: string): Uint8Array {
  const hex = normalizeHex(text);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Field groups written out in a test, one string per field: `hex('5243', '01', …)`. */
export function hex(...fields: string[]): string {
  return normalizeHex(fields.join(''));
}

/** The golden datagram stored in test/fixtures/golden/<name>.hex, as normalized hex. */
export function readGolden(name: string): string {
  return normalizeHex(readFileSync(new URL(`../../../fixtures/golden/${name}.hex`, import.meta.url), 'utf8'));
}

/** test/fixtures/golden/<name>.hex as the stored side of a golden case. */
export function goldenFile(name: string): NonNullable<GoldenCase<unknown>['stored']> {
  return { path: `test/fixtures/golden/${name}.hex`, read: () => fromHex(readGolden(name)) };
}

// ---- encode / decode helpers ----

/**
 * Encodes `msg` at an offset inside a larger buffer and decodes it from a subarray whose
 * byteOffset is not zero (as a Buffer from Node's pool would be), so both sides must
 * honour offsets. Returns the encoding.
 */
export function expectRoundTrip<T>(c: CodecUnderTest<T>, msg: T, expected: T = msg): Uint8Array {
  const len = c.length(msg);
  const pad = 5;
  const buf = new Uint8Array(pad + len + pad).fill(0xee);
  const written = c.encode(msg, buf, pad);
  expect(written).toBe(len);
  expect(buf.subarray(0, pad).every((b) => b === 0xee)).toBe(true);
  expect(buf.subarray(pad + len).every((b) => b === 0xee)).toBe(true);
  const bytes = buf.subarray(pad, pad + len);
  const r = c.decode(bytes);
  expect(r).toEqual({ ok: true, value: expected });
  expect(decodeDatagram(bytes)).toEqual({ ok: true, value: { type: c.type, msg: expected } });
  return bytes.slice();
}

/** The family hooks of test/support/codec-cases.ts for one of rackcast's messages. */
export function messageFamily<T>(c: CodecUnderTest<T>): CodecFamily<T> {
  return {
    datagram: { name: 'decodeDatagram', decode: decodeDatagram },
    expectRoundTrip: (msg) => {
      expectRoundTrip(c, msg);
    },
    fuzz: (seed, valid, rounds) => fuzzDecoder(c, seed, valid, rounds).mutationsDecodedOk,
  };
}

// ---- random input ----

export interface FuzzCounts {
  readonly decodedOk: number;
  readonly mutationsDecodedOk: number;
}

function reencode<T>(c: CodecUnderTest<T>, msg: T): Uint8Array {
  const out = new Uint8Array(c.length(msg));
  c.encode(msg, out);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function randInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

function mutate(rand: () => number, valid: Uint8Array): Uint8Array {
  let b = valid.slice();
  const edits = 1 + randInt(rand, 4);
  for (let e = 0; e < edits; e++) {
    const op = randInt(rand, 6);
    if (b.byteLength === 0) break;
    const at = randInt(rand, b.byteLength);
    if (op <= 1)
      b[at]! ^= 1 << randInt(rand, 8); // bit flip (twice as likely)
    else if (op === 2)
      b[at] = randInt(rand, 256); // byte change
    else if (op === 3)
      b[at] = [0x00, 0xff, 0x7f, 0x80][randInt(rand, 4)]!; // boundary byte
    else if (op === 4)
      b = b.slice(0, at); // truncate
    else {
      const grown = new Uint8Array(b.byteLength + 1 + randInt(rand, 8));
      grown.set(b);
      grown.set(randomBytes(rand, grown.byteLength - b.byteLength), b.byteLength);
      b = grown; // trailing garbage
    }
  }
  return b;
}

/**
 * Runs the decoder and `decodeDatagram` on seeded random input and fails (with the seed,
 * iteration and input) if either throws, if they disagree, or if a datagram that decodes
 * does not re-encode to itself. Three streams of `rounds` inputs each: random bytes of
 * length 0..100; random bytes behind a valid header of this type, so the message's own
 * checks are reached; mutations of the given valid encodings.
 */
export function fuzzDecoder<T>(c: CodecUnderTest<T>, seed: number, valid: readonly Uint8Array[], rounds = 20_000): FuzzCounts {
  const rand = mulberry32(seed);
  let decodedOk = 0;
  let mutationsDecodedOk = 0;
  const check = (stream: string, i: number, input: Uint8Array): boolean => {
    const where = (): string => `seed 0x${seed.toString(16)} ${stream} #${i} input ${toHex(input)}`;
    let r: Result<T>;
    let d: ReturnType<typeof decodeDatagram>;
    try {
      r = c.decode(input);
      d = decodeDatagram(input);
    } catch (e) {
      throw new Error(`${MESSAGE_TYPE_NAMES[c.type]} decoder threw at ${where()}: ${String(e)}`);
    }
    // Plain comparisons here, expect() only on a failure: this runs 60 000 times per codec.
    if (input.byteLength >= HEADER_SIZE && input[3] === c.type) {
      const agree = d.ok ? r.ok && d.value.type === c.type && sameBytes(reencode(c, d.value.msg as T), reencode(c, r.value)) : !r.ok && d.code === r.code;
      if (!agree) expect(d.ok ? { ok: true, value: d.value.msg } : d, `decodeDatagram disagrees at ${where()}`).toEqual(r);
    }
    if (!r.ok) return false;
    if (c.reencodes === undefined || c.reencodes(input)) {
      const again = reencode(c, r.value);
      if (!sameBytes(again, input)) expect(toHex(again), `re-encode at ${where()}`).toBe(toHex(input));
    }
    return true;
  };
  for (let i = 0; i < rounds; i++) {
    if (check('random', i, randomBytes(rand, randInt(rand, 101)))) decodedOk++;
  }
  for (let i = 0; i < rounds; i++) {
    const input = randomBytes(rand, randInt(rand, 101));
    const header = [MAGIC >> 8, MAGIC & 0xff, VERSION, c.type];
    for (let j = 0; j < header.length && j < input.byteLength; j++) input[j] = header[j]!;
    if (check('headed', i, input)) decodedOk++;
  }
  for (let i = 0; i < rounds; i++) {
    if (check('mutation', i, mutate(rand, valid[randInt(rand, valid.length)]!))) mutationsDecodedOk++;
  }
  return { decodedOk: decodedOk + mutationsDecodedOk, mutationsDecodedOk };
}

/** Bytes of a valid encoding with `patch(view)` applied: for range checks a plain encode cannot reach. */
export function patched<T>(c: CodecUnderTest<T>, msg: T, patch: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = encodeToBytes(c, msg);
  patch(new DataView(b.buffer, b.byteOffset, b.byteLength), b);
  return b;
}
