// The streaming cpio reader on hand-made archives: our own headers round-trip; bad names,
// an empty input and misuse are refused with a stable code; random input never throws
// anything but CpioError; the crc sum. Archives made by GNU cpio are read in
// test/integration/receiver/cpio/reader.test.ts.

import { describe, expect, it } from 'vitest';
import { addBytes, CpioError, CpioReader, NEWC_HEADER_BYTES } from '../../../../receiver/cpio/reader.js';
import { encodeNewcHeader, encodeTrailer } from '../../../../sender/pack.js';
import { readCpio as read } from '../../../support/cpio-tree.js';
import { mulberry32 } from '../../../support/prng.js';

describe('cpio reader on hand-made archives', () => {
  const fields = { ino: 1, mode: 0o100644, uid: 0, gid: 0, nlink: 1, mtime: 0, fileBytes: 0, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0 };

  it('round-trips our own headers (crc checksum as the reader computes it)', () => {
    const data = Buffer.from('0123456789');
    const check = addBytes(0, data);
    const a = Buffer.concat([
      encodeNewcHeader('crc', { ...fields, fileBytes: data.byteLength, check }, Buffer.from('f')),
      data,
      Buffer.alloc(2),
      encodeTrailer('crc', 0),
    ]);
    const { recs } = read([a]);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.data).toBe(data.toString('hex'));
  });

  it('names: not NUL-terminated, NUL inside, empty, too long', () => {
    const h = encodeNewcHeader('newc', fields, Buffer.from('abc'));
    const noNul = Buffer.from(h);
    noNul[NEWC_HEADER_BYTES + 3] = 0x41;
    expect(() => read([noNul, encodeTrailer('newc', 0)])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_NAME' }));
    const inner = Buffer.from(h);
    inner[NEWC_HEADER_BYTES + 1] = 0;
    expect(() => read([inner, encodeTrailer('newc', 0)])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_NAME' }));
    const empty = Buffer.from(h);
    empty.write('00000000', 94, 'latin1');
    expect(() => read([empty])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_NAME' }));
    const long = Buffer.from(h);
    long.write('00100000', 94, 'latin1');
    expect(() => read([long])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_NAME' }));
  });

  it('an empty input is an error at end(), not an empty archive', () => {
    expect(() => read([])).toThrow(/empty archive/);
  });

  it('feed() before the previous chunk was polled to the end is misuse', () => {
    const r = new CpioReader();
    r.feed(encodeNewcHeader('newc', { ...fields, fileBytes: 4 }, Buffer.from('f')));
    expect(() => r.feed(new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'ERR_CPIO_MISUSE' }));
  });

  it('random bytes (and random bytes after a valid header) only ever raise CpioError', () => {
    const head = encodeNewcHeader('crc', { ...fields, fileBytes: 100 }, Buffer.from('x'));
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed);
      const junk = Buffer.alloc(1 + Math.floor(rnd() * 400));
      for (let i = 0; i < junk.length; i++) junk[i] = rnd() < 0.5 ? 0x30 + Math.floor(rnd() * 10) : Math.floor(rnd() * 256);
      for (const input of [junk, Buffer.concat([head, junk])]) {
        try {
          read([input]);
        } catch (e) {
          expect(e, `seed ${seed}`).toBeInstanceOf(CpioError);
        }
      }
    }
  });

  it('the crc sum (SWAR) equals a plain byte loop at any offset and length', () => {
    const rnd = mulberry32(77);
    const big = Buffer.alloc(70_000);
    for (let i = 0; i < big.length; i++) big[i] = rnd() < 0.3 ? 255 : Math.floor(rnd() * 256);
    for (let k = 0; k < 300; k++) {
      const off = Math.floor(rnd() * 1000);
      const len = k < 20 ? k : Math.floor(rnd() * (big.length - off));
      const part = big.subarray(off, off + len);
      let want = 0;
      for (const b of part) want = (want + b) % 2 ** 32;
      expect(addBytes(0, part), `offset ${off} length ${len}`).toBe(want);
    }
  });

  it('the crc sum is the byte sum modulo 2^32', () => {
    expect(addBytes(0, Buffer.from([1, 2, 255]))).toBe(258);
    expect(addBytes(0xffff_ffff, Buffer.from([2]))).toBe(1);
    expect(addBytes(0, Buffer.alloc(1 << 20, 0xff))).toBe(255 * (1 << 20));
  });
});
