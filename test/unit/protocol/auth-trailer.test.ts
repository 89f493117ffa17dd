// protocol/auth-trailer.ts: the --key-file trailer's layout (sealing itself is tested in
// test/unit/common/auth.test.ts).

import { describe, expect, it } from 'vitest';
import {
  AUTH_NONCE_SIZE,
  AUTH_TAG_SIZE,
  AUTH_TRAILER_SIZE,
  decodeTrailerCounter,
  decodeTrailerSourceId,
  encodeTrailerIds,
  MAX_SEAL_COUNTER,
  MIN_SEALED_SIZE,
  OFF_TAG,
} from '../../../protocol/auth-trailer.js';
import { HEADER_SIZE } from '../../../protocol/header.js';
import { mulberry32 } from '../../support/prng.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('auth trailer', () => {
  it('sizes: 4 + 8 bytes of nonce, a 16-byte tag, 28 in all', () => {
    expect(AUTH_NONCE_SIZE).toBe(12);
    expect(OFF_TAG).toBe(AUTH_NONCE_SIZE);
    expect(AUTH_TAG_SIZE).toBe(16);
    expect(AUTH_TRAILER_SIZE).toBe(28);
    expect(MIN_SEALED_SIZE).toBe(HEADER_SIZE + 28);
  });

  it('golden bytes: sourceId and counter big-endian, the tag left alone', () => {
    const t = new Uint8Array(2 + AUTH_TRAILER_SIZE).fill(0xee);
    encodeTrailerIds(t, 2, 0xdeadbeef, 0x0001_0203_0405);
    expect(hex(t)).toBe('eeee' + 'deadbeef' + '0000000102030405' + 'ee'.repeat(16));
    expect(decodeTrailerSourceId(t, 2)).toBe(0xdeadbeef);
    expect(decodeTrailerCounter(t, 2)).toBe(0x0001_0203_0405);
  });

  it('round-trips random ids and counters up to 2^53 - 1', () => {
    const rand = mulberry32(0xa7);
    const t = new Uint8Array(AUTH_TRAILER_SIZE);
    for (const counter of [0, 1, 0xffff_ffff, 0x1_0000_0000, MAX_SEAL_COUNTER]) {
      encodeTrailerIds(t, 0, 0, counter);
      expect(decodeTrailerCounter(t, 0)).toBe(counter);
    }
    for (let i = 0; i < 10_000; i++) {
      const id = Math.floor(rand() * 2 ** 32);
      const counter = Math.floor(rand() * 2 ** 21) * 2 ** 32 + Math.floor(rand() * 2 ** 32);
      encodeTrailerIds(t, 0, id, counter);
      if (decodeTrailerSourceId(t, 0) !== id || decodeTrailerCounter(t, 0) !== counter) expect.fail(`${id} ${counter}`);
    }
  });

  it('a counter of 2^53 or more decodes as -1 (no sealer makes one)', () => {
    const t = new Uint8Array(AUTH_TRAILER_SIZE);
    t.set([0x00, 0x20, 0, 0, 0, 0, 0, 0], 4);
    expect(decodeTrailerCounter(t, 0)).toBe(-1);
    t.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 4);
    expect(decodeTrailerCounter(t, 0)).toBe(-1);
    t.set([0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 4);
    expect(decodeTrailerCounter(t, 0)).toBe(MAX_SEAL_COUNTER);
  });
});
