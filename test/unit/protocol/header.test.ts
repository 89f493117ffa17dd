import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  encodeHeader,
  expectHeader,
  getU64,
  HEADER_SIZE,
  ipv4ToU32,
  MAGIC,
  MAX_U53,
  MESSAGE_TYPE_NAMES,
  MessageType,
  setU64,
  u32ToIpv4,
  VERSION,
} from '../../../protocol/header.js';
import { mulberry32 } from '../../support/prng.js';
import { fromHex, hex, toHex } from './messages/codec-harness.js';

const TYPE_CODES = Object.keys(MESSAGE_TYPE_NAMES).map(Number);

function headerBytes(type: MessageType, sessionId: number): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  expect(encodeHeader(type, sessionId, b)).toBe(HEADER_SIZE);
  return b;
}

describe('common header', () => {
  it('encodes magic, version, type and sessionId big-endian', () => {
    expect(MAGIC).toBe(0x5243);
    expect(VERSION).toBe(2);
    expect(HEADER_SIZE).toBe(8);
    // 'R' 'C', version 2, type 6 NAK, sessionId 0xdeadbeef
    expect(toHex(headerBytes(MessageType.Nak, 0xdeadbeef))).toBe(hex('52', '43', '02', '06', 'deadbeef'));
  });

  it('every MessageType has a name and the codes are 1..17', () => {
    const enumCodes = Object.values(MessageType).filter((v): v is number => typeof v === 'number');
    expect(TYPE_CODES.sort((a, b) => a - b)).toEqual(enumCodes.sort((a, b) => a - b));
    expect(TYPE_CODES).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
  });

  it('decodes every known type and any sessionId', () => {
    for (const type of TYPE_CODES) {
      for (const sessionId of [0, 1, 0x7fff_ffff, 0xffff_ffff]) {
        expect(decodeHeader(headerBytes(type, sessionId))).toEqual({ ok: true, value: { type, sessionId } });
      }
    }
  });

  it('a header shorter than 8 bytes is ERR_TRUNCATED', () => {
    const b = headerBytes(MessageType.Hello, 1);
    for (let n = 0; n < HEADER_SIZE; n++) {
      const r = decodeHeader(b.slice(0, n));
      expect(r.ok ? 'ok' : r.code).toBe('ERR_TRUNCATED');
    }
  });

  it('a bad magic is ERR_BAD_MAGIC', () => {
    for (const magic of ['0000', '4352', '5242', '5343', 'ffff']) {
      const r = decodeHeader(fromHex(`${magic} 02 01 00000001`));
      expect(r.ok ? 'ok' : r.code, magic).toBe('ERR_BAD_MAGIC');
    }
  });

  it('a version other than 2 is ERR_BAD_VERSION (1 included: its receivers multicast STATUS)', () => {
    for (const version of [0, 1, 3, 0x81, 255]) {
      const b = headerBytes(MessageType.Hello, 1);
      b[2] = version;
      const r = decodeHeader(b);
      expect(r.ok ? 'ok' : r.code, `version ${version}`).toBe('ERR_BAD_VERSION');
    }
  });

  it('an unknown type code is ERR_BAD_TYPE', () => {
    for (const type of [0, Math.max(...TYPE_CODES) + 1, 0x80, 255]) {
      const b = headerBytes(MessageType.Hello, 1);
      b[3] = type;
      const r = decodeHeader(b);
      expect(r.ok ? 'ok' : r.code, `type ${type}`).toBe('ERR_BAD_TYPE');
    }
  });

  it('checks magic before version before type', () => {
    const r = decodeHeader(fromHex('0000 02 ff 00000000'));
    expect(r.ok ? 'ok' : r.code).toBe('ERR_BAD_MAGIC');
    const r2 = decodeHeader(fromHex('5243 01 ff 00000000'));
    expect(r2.ok ? 'ok' : r2.code).toBe('ERR_BAD_VERSION');
  });

  it('expectHeader checks the exact type, then the minimum size', () => {
    const b = new Uint8Array(12);
    encodeHeader(MessageType.Accept, 7, b);
    expect(expectHeader(b, MessageType.Accept, 12)).toEqual({ ok: true, value: { type: MessageType.Accept, sessionId: 7 } });
    const wrong = expectHeader(b, MessageType.ReportAck, 12);
    expect(wrong.ok ? 'ok' : wrong.code).toBe('ERR_BAD_TYPE');
    const short = expectHeader(b, MessageType.Accept, 13);
    expect(short.ok ? 'ok' : short.code).toBe('ERR_TRUNCATED');
    // A header error comes first, whatever the size.
    const bad = expectHeader(b.slice(0, 4), MessageType.Accept, 12);
    expect(bad.ok ? 'ok' : bad.code).toBe('ERR_TRUNCATED');
  });

  it('reads a header inside a larger buffer at its byteOffset', () => {
    const big = new Uint8Array(32).fill(0xff);
    const sub = big.subarray(5, 5 + HEADER_SIZE);
    encodeHeader(MessageType.Drop, 0x01020304, sub);
    expect(decodeHeader(sub)).toEqual({ ok: true, value: { type: MessageType.Drop, sessionId: 0x01020304 } });
    expect(big[4]).toBe(0xff);
    expect(big[13]).toBe(0xff);
  });
});

describe('u64 fields', () => {
  const roundTrip = (n: number): string => {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    setU64(v, 0, n);
    if (getU64(v, 0) !== n) expect.fail(`${n} read back as ${getU64(v, 0)}`);
    return toHex(b);
  };

  it('writes big-endian and reads back exactly up to 2^53 - 1', () => {
    expect(roundTrip(0)).toBe('0000000000000000');
    expect(roundTrip(1)).toBe('0000000000000001');
    expect(roundTrip(2 ** 32 - 1)).toBe('00000000ffffffff');
    expect(roundTrip(2 ** 32)).toBe('0000000100000000');
    expect(roundTrip(2 ** 32 + 1)).toBe('0000000100000001');
    expect(roundTrip(0x1234_5678_9abc)).toBe('000012345678' + '9abc');
    expect(MAX_U53).toBe(2 ** 53 - 1);
    expect(roundTrip(MAX_U53)).toBe('001fffffffffffff');
  });

  it('round-trips random values below 2^53', () => {
    const rand = mulberry32(0x64);
    for (let i = 0; i < 10_000; i++) {
      const n = Math.floor(rand() * 2 ** 21) * 2 ** 32 + Math.floor(rand() * 2 ** 32);
      roundTrip(n);
    }
  });

  it('returns -1 for anything of 2^53 or more', () => {
    for (const h of ['0020000000000000', '0020000000000001', '0040000000000000', '8000000000000000', 'ffffffffffffffff']) {
      const b = fromHex(h);
      expect(getU64(new DataView(b.buffer), 0), h).toBe(-1);
    }
  });

  it('reads at an offset', () => {
    const b = fromHex('aaaa 001fffffffffffff bb');
    expect(getU64(new DataView(b.buffer), 2)).toBe(MAX_U53);
  });
});

describe('IPv4 helpers', () => {
  it('converts dotted quads to u32 and back', () => {
    expect(ipv4ToU32('0.0.0.0')).toBe(0);
    expect(ipv4ToU32('239.1.2.3')).toBe(0xef01_0203);
    expect(ipv4ToU32('224.0.0.1')).toBe(0xe000_0001);
    expect(ipv4ToU32('255.255.255.255')).toBe(0xffff_ffff);
    expect(u32ToIpv4(0)).toBe('0.0.0.0');
    expect(u32ToIpv4(0xef01_0203)).toBe('239.1.2.3');
    expect(u32ToIpv4(0xffff_ffff)).toBe('255.255.255.255');
  });

  it('round-trips random addresses', () => {
    const rand = mulberry32(0x1b4);
    for (let i = 0; i < 10_000; i++) {
      const n = Math.floor(rand() * 2 ** 32);
      if (ipv4ToU32(u32ToIpv4(n)) !== n) expect.fail(`${n} -> ${u32ToIpv4(n)}`);
    }
  });

  it('rejects what is not a dotted quad with RangeError (caller misuse)', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-1', 'a.b.c.d', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.1000', '::1', '0x7f.0.0.1']) {
      expect(() => ipv4ToU32(bad), JSON.stringify(bad)).toThrow(RangeError);
    }
  });
});
