// The native-kernel udpcast coder (sender/udpcast/parity.ts) against the TS reference, which
// test/unit/protocol/udpcast/fec-code.test.ts ties to Debian's parity: the same bytes for
// seeded stripes of every size and rows up to 127.

import { describe, expect, it } from 'vitest';
import { NativeReedSolomon, nativeRsStatus } from '../../../../common/fec.js';
import { tsUdpcastParityCoder } from '../../../../protocol/udpcast/fec-code.js';
import { nativeUdpcastParityCoder } from '../../../../sender/udpcast/parity.js';
import { mulberry32 } from '../../../support/prng.js';

const status = nativeRsStatus();
const skip = status.loaded ? undefined : `native RS addon not loaded (${status.reason})`;
if (skip !== undefined) console.log(`parity.test.ts: native differential skipped: ${skip}`);

describe.skipIf(skip !== undefined)('udpcast parity on the native kernels', () => {
  it('equals the TS reference for 200 seeded stripes (k 1..128, rows 0..127)', () => {
    const coder = nativeUdpcastParityCoder(new NativeReedSolomon());
    const rand = mulberry32(0x5eed5);
    const n = (m: number) => Math.floor(rand() * m);
    for (let round = 0; round < 200; round++) {
      const bb = [64, 1456, 1000][round % 3];
      const k = round < 2 ? [1, 128][round] : 1 + n(128);
      const blocks = Array.from({ length: k }, () => Uint8Array.from({ length: bb }, () => n(256)));
      const rows = [...new Set(Array.from({ length: 1 + n(8) }, () => (round === 1 ? 127 : n(128))))];
      const a = rows.map(() => new Uint8Array(bb));
      const b = rows.map(() => new Uint8Array(bb).fill(0xaa));
      tsUdpcastParityCoder.encode(tsUdpcastParityCoder.prepare(blocks, bb), rows, a);
      coder.encode(coder.prepare(blocks, bb), rows, b);
      expect(b, `round ${round} k ${k} rows ${rows}`).toEqual(a);
    }
  });

  it('refuses what the reference refuses', () => {
    const coder = nativeUdpcastParityCoder(new NativeReedSolomon());
    expect(() => coder.prepare([new Uint8Array(3)], 4)).toThrow(RangeError);
    expect(() => coder.encode(coder.prepare([new Uint8Array(4)], 4), [128], [new Uint8Array(4)])).toThrow(RangeError);
  });
});
