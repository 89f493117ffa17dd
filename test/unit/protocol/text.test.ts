import { describe, expect, it } from 'vitest';
import { decodeDetail, detailBytes, MAX_DETAIL_BYTES } from '../../../protocol/text.js';
import { mulberry32 } from '../../support/prng.js';
import { BOUNDARY_DETAILS, longestPrefixWithin, utf8 } from './messages/detail-text.js';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// One character of each UTF-8 length, so random strings put cuts at every kind of position.
const ALPHABET = ['a', 'Z', ' ', 'é', 'ß', '€', '磁', '💾', '𝄞'];

function randomDetail(rand: () => number): string {
  const n = Math.floor(rand() * 150);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

describe('detailBytes', () => {
  it('keeps a detail of at most 240 bytes unchanged', () => {
    for (const s of ['', 'ok', 'x'.repeat(240), '€'.repeat(80), '💾'.repeat(60)]) {
      expect(detailBytes(s)).toEqual(utf8.encode(s));
    }
  });

  it('always returns the longest prefix of the UTF-8 that is valid UTF-8 of at most 240 bytes', () => {
    const seed = 0x7e47;
    const rand = mulberry32(seed);
    const bad: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const s = randomDetail(rand);
      const full = utf8.encode(s);
      const b = detailBytes(s);
      const isPrefix = b.every((byte, j) => byte === full[j]);
      let valid = true;
      try {
        strict.decode(b);
      } catch {
        valid = false;
      }
      // The cut keeps the longest whole-character prefix: not one byte short of it.
      const short = utf8.encode(longestPrefixWithin(s, MAX_DETAIL_BYTES)).byteLength - b.byteLength;
      if (b.byteLength > MAX_DETAIL_BYTES || !isPrefix || !valid || short !== 0) {
        bad.push(`seed 0x${seed.toString(16)} #${i}: ${b.byteLength} bytes, prefix ${isPrefix}, valid ${valid}, short by ${short}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('keeps the longest whole-character prefix when the cut falls inside a character', () => {
    for (const s of ['a' + 'é'.repeat(120), 'a' + '€'.repeat(80), 'ab' + '💾'.repeat(60), 'a'.repeat(239) + '💾']) {
      expect(decodeDetail(detailBytes(s))).toBe(longestPrefixWithin(s, MAX_DETAIL_BYTES));
    }
  });

  // A cut right after a complete character must not back off over it: a character that
  // fits is kept (detailBytes('€'.repeat(81)) is 240 bytes, 80 '€').
  it.each(BOUNDARY_DETAILS)('keeps a character that ends exactly at byte 240: %s', (_name, s) => {
    expect(detailBytes(s).byteLength).toBe(MAX_DETAIL_BYTES);
  });
});

describe('decodeDetail', () => {
  it('never throws; bytes that are not UTF-8 become U+FFFD', () => {
    expect(decodeDetail(Uint8Array.of(0x61, 0xff, 0xc3))).toBe('a\uFFFD\uFFFD');
    const rand = mulberry32(0xdec0de);
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from({ length: Math.floor(rand() * 241) }, () => Math.floor(rand() * 256));
      if (typeof decodeDetail(b) !== 'string') expect.fail(`seed 0xdec0de #${i}`);
    }
  });

  // A TextDecoder made without `ignoreBOM: true` would swallow a leading EF BB BF (U+FEFF).
  it('keeps a leading U+FEFF', () => {
    expect(decodeDetail(detailBytes('\uFEFFx'))).toBe('\uFEFFx');
  });
});
