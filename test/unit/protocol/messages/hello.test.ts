import { describe, expect, it } from 'vitest';
import { CAP_PARITY_REPAIR, ipv4ToU32, MAX_U53, MessageType } from '../../../../protocol/header.js';
import { decodeHello, encodeHello, HELLO_SIZE, type Hello, HelloPhase, helloLength, IMAGE_BYTES_UNKNOWN } from '../../../../protocol/messages/hello.js';
import { codecCases } from '../../../support/codec-cases.js';
import { type CodecUnderTest, encodeToBytes, expectErr, goldenFile, hex, messageFamily, patched, toHex } from './codec-harness.js';

const codec: CodecUnderTest<Hello> = {
  type: MessageType.Hello,
  decode: decodeHello,
  encode: encodeHello,
  length: helloLength,
};

const GOLDEN: Hello = {
  sessionId: 0x01020304,
  caps: CAP_PARITY_REPAIR,
  blockBytes: 1456,
  sliceBlocks: 128,
  stripes: 8,
  phase: HelloPhase.Announcing,
  dataPort: 9000,
  dataGroup: ipv4ToU32('239.1.2.3'),
  imageBytes: 2 ** 32 + 5,
  retainSlices: 32,
  redundancy: 2,
};

// Written from the layout table in protocol/messages/hello.ts, one field per string.
const GOLDEN_HEX = hex(
  '5243', //     0  magic 'RC'
  '02', //       2  version 2
  '01', //       3  type HELLO
  '01020304', // 4  sessionId
  '00000001', // 8  caps = CAP_PARITY_REPAIR
  '05b0', //    12  blockBytes 1456
  '0080', //    14  sliceBlocks 128
  '08', //      16  stripes 8
  '00', //      17  phase announcing
  '2328', //    18  dataPort 9000
  'ef010203', //20  dataGroup 239.1.2.3
  '00000001', //24  imageBytes 2^32 + 5, high word
  '00000005', //28  imageBytes low word
  '0020', //    32  retainSlices 32
  '02', //      34  redundancy 2
  '00', //      35  reserved
);

const MIN: Hello = {
  sessionId: 0,
  caps: 0,
  blockBytes: 16,
  sliceBlocks: 1,
  stripes: 1,
  phase: HelloPhase.Announcing,
  dataPort: 1,
  dataGroup: ipv4ToU32('224.0.0.0'),
  imageBytes: 0,
  retainSlices: 1,
  redundancy: 0,
};

const MAX: Hello = {
  sessionId: 0xffff_ffff,
  caps: 0xffff_ffff,
  blockBytes: 65000,
  sliceBlocks: 4096,
  stripes: 128,
  phase: HelloPhase.Transferring,
  dataPort: 65535,
  dataGroup: ipv4ToU32('239.255.255.255'),
  imageBytes: MAX_U53,
  retainSlices: 4096,
  redundancy: 255 - 4096 / 128,
};

codecCases({
  name: 'HELLO',
  codec,
  family: messageFamily(codec),
  golden: [{ msg: GOLDEN, hex: GOLDEN_HEX, bytes: HELLO_SIZE, stored: goldenFile('hello') }],
  roundTrips: [
    ['golden', GOLDEN],
    ['minimum of every field', MIN],
    ['maximum of every field', MAX],
    ['unknown image size', { ...GOLDEN, imageBytes: IMAGE_BYTES_UNKNOWN, phase: HelloPhase.Transferring }],
    ['stripe of 255 blocks, no redundancy', { ...GOLDEN, sliceBlocks: 255, stripes: 1, redundancy: 0 }],
    ['image of 2^32 bytes', { ...GOLDEN, imageBytes: 2 ** 32 }],
    ['image of 2^32 - 1 bytes', { ...GOLDEN, imageBytes: 2 ** 32 - 1 }],
  ],
  prefixes: { of: [GOLDEN, MIN, MAX], error: 'ERR_TRUNCATED' },
  trailing: { of: [GOLDEN], counts: [1, 2, 64], error: 'ERR_BAD_LENGTH' },
  otherType: { bytes: patched(codec, GOLDEN, (v) => v.setUint8(3, MessageType.Join)), error: 'ERR_BAD_TYPE' },
  random: { seed: 0x4e110, valid: [GOLDEN, MIN, MAX, { ...GOLDEN, imageBytes: IMAGE_BYTES_UNKNOWN }] },
});

describe('HELLO golden bytes', () => {
  it('writes an unknown image size as all ones', () => {
    const b = encodeToBytes(codec, { ...GOLDEN, imageBytes: IMAGE_BYTES_UNKNOWN });
    expect(toHex(b.subarray(24, 32))).toBe('ffffffffffffffff');
  });
});

describe('HELLO round trip', () => {
  it('encode returns HELLO_SIZE, which is helloLength()', () => {
    expect(helloLength()).toBe(HELLO_SIZE);
    expect(HELLO_SIZE).toBe(36);
    expect(encodeHello(GOLDEN, new Uint8Array(HELLO_SIZE))).toBe(HELLO_SIZE);
  });
});

describe('HELLO field ranges', () => {
  const bad = (msg: Partial<Hello>, field: RegExp): void => {
    const r = decodeHello(encodeToBytes(codec, { ...GOLDEN, ...msg }));
    expectErr(r, 'ERR_BAD_FIELD');
    if (!r.ok) expect(r.detail).toMatch(field);
  };
  const good = (msg: Partial<Hello>): void => {
    expect(decodeHello(encodeToBytes(codec, { ...GOLDEN, ...msg })).ok).toBe(true);
  };

  it('blockBytes is 16..65000', () => {
    bad({ blockBytes: 0 }, /blockBytes/);
    bad({ blockBytes: 15 }, /blockBytes/);
    good({ blockBytes: 16 });
    good({ blockBytes: 65000 });
    bad({ blockBytes: 65001 }, /blockBytes/);
    bad({ blockBytes: 65535 }, /blockBytes/);
  });

  it('sliceBlocks is 1..4096', () => {
    bad({ sliceBlocks: 0 }, /sliceBlocks/);
    good({ sliceBlocks: 1, stripes: 1 });
    good({ sliceBlocks: 4096, stripes: 128 });
    bad({ sliceBlocks: 4097, stripes: 128 }, /sliceBlocks/);
    bad({ sliceBlocks: 65535, stripes: 128 }, /sliceBlocks/);
  });

  it('stripes is 1..128 and at most sliceBlocks', () => {
    bad({ stripes: 0 }, /stripes/);
    good({ sliceBlocks: 128, stripes: 128 });
    bad({ sliceBlocks: 256, stripes: 129 }, /stripes/);
    bad({ stripes: 255 }, /stripes/);
    bad({ sliceBlocks: 4, stripes: 5 }, /stripes/);
  });

  it('a stripe holds at most 255 data blocks (the code has 256 symbols)', () => {
    good({ sliceBlocks: 255, stripes: 1, redundancy: 0 });
    bad({ sliceBlocks: 256, stripes: 1, redundancy: 0 }, /stripe size/);
    bad({ sliceBlocks: 4096, stripes: 16, redundancy: 0 }, /stripe size/);
    good({ sliceBlocks: 4096, stripes: 17, redundancy: 0 });
  });

  it('phase is announcing or transferring', () => {
    good({ phase: HelloPhase.Transferring });
    bad({ phase: 2 as HelloPhase }, /phase/);
    bad({ phase: 255 as HelloPhase }, /phase/);
  });

  it('dataPort is not 0', () => {
    bad({ dataPort: 0 }, /dataPort/);
  });

  it('dataGroup is in 224.0.0.0/4', () => {
    good({ dataGroup: ipv4ToU32('224.0.0.0') });
    good({ dataGroup: ipv4ToU32('239.255.255.255') });
    bad({ dataGroup: ipv4ToU32('223.255.255.255') }, /dataGroup/);
    bad({ dataGroup: ipv4ToU32('240.0.0.0') }, /dataGroup/);
    bad({ dataGroup: ipv4ToU32('127.0.0.1') }, /dataGroup/);
    bad({ dataGroup: 0 }, /dataGroup/);
  });

  it('imageBytes fits in 53 bits unless it is the all-ones "unknown"', () => {
    good({ imageBytes: MAX_U53 });
    for (const [hi, lo] of [
      [0x0020_0000, 0],
      [0xffff_ffff, 0xffff_fffe],
      [0xffff_fffe, 0xffff_ffff],
      [0x8000_0000, 0],
    ]) {
      const r = decodeHello(
        patched(codec, GOLDEN, (v) => {
          v.setUint32(24, hi!, false);
          v.setUint32(28, lo!, false);
        }),
      );
      expectErr(r, 'ERR_BAD_FIELD');
      if (!r.ok) expect(r.detail).toMatch(/imageBytes/);
    }
  });

  it('retainSlices is 1..4096', () => {
    bad({ retainSlices: 0 }, /retainSlices/);
    good({ retainSlices: 1 });
    good({ retainSlices: 4096 });
    bad({ retainSlices: 4097 }, /retainSlices/);
  });

  it('redundancy leaves room in the 255-symbol stripe', () => {
    // GOLDEN: 128 blocks in 8 stripes = 16 data blocks per stripe.
    good({ redundancy: 255 - 16 });
    bad({ redundancy: 256 - 16 }, /redundancy/);
    bad({ redundancy: 255 }, /redundancy/);
  });

  it('the reserved byte is 0', () => {
    const r = decodeHello(patched(codec, GOLDEN, (v) => v.setUint8(35, 1)));
    expectErr(r, 'ERR_BAD_FIELD');
  });

  it('caps accepts unknown bits (they are how features are added)', () => {
    good({ caps: 0xffff_ffff });
  });
});
