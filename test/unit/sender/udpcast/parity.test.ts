// The native-kernel udpcast coder (sender/udpcast/parity.ts) against the TS reference, which
// test/unit/protocol/udpcast/fec-code.test.ts ties to Debian's parity: the same bytes for
// seeded stripes of every size and rows up to 127.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { NativeReedSolomon, nativeRsStatus, RS_KERNEL_ENV } from '../../../../common/fec.js';
import { tsUdpcastParityCoder } from '../../../../protocol/udpcast/fec-code.js';
import { loadUdpcastParityCoder, nativeUdpcastParityCoder } from '../../../../sender/udpcast/parity.js';
import { mulberry32 } from '../../../support/prng.js';

const status = nativeRsStatus();
const requireNative = process.env.RACKCAST_REQUIRE_NATIVE === '1';
const skip = status.loaded ? undefined : `native RS addon not loaded (${status.reason})`;
if (skip !== undefined) console.log(`parity.test.ts: native differential skipped: ${skip}`);

describe('loadUdpcastParityCoder (what udp-sender --protocol udpcast runs)', () => {
  afterEach(() => vi.unstubAllEnvs());

  // RACKCAST_REQUIRE_NATIVE=1 (CI with the addon built) turns a missing addon into a failure
  // instead of a skip, so the sender cannot silently fall back to the TS coder there.
  it.skipIf(!status.loaded && !requireNative)('runs on the native kernels whenever the addon loads', () => {
    vi.stubEnv(RS_KERNEL_ENV, '');
    if (!status.loaded) expect.fail(`RACKCAST_REQUIRE_NATIVE=1 but ${status.reason}`);
    const got = loadUdpcastParityCoder();
    expect(got.fallbackReason).toBeUndefined();
    expect(got.native).toBe(true);
    expect(got.coder.name).toBe(`udpcast-on-native-cauchy-${status.bestKernel}`);
    expect(got.coder).not.toBe(tsUdpcastParityCoder);
  });

  it.skipIf(!status.loaded)('another native kernel on request, still native', () => {
    vi.stubEnv(RS_KERNEL_ENV, 'scalar');
    const got = loadUdpcastParityCoder();
    expect(got).toMatchObject({ native: true, fallbackReason: undefined });
    expect(got.coder.name).toBe('udpcast-on-native-cauchy-scalar');
  });

  it('the TS reference when asked for, saying so', () => {
    vi.stubEnv(RS_KERNEL_ENV, 'ts');
    const got = loadUdpcastParityCoder();
    expect(got.native).toBe(false);
    expect(got.coder).toBe(tsUdpcastParityCoder);
    expect(got.fallbackReason).toMatch(/RACKCAST_RS_KERNEL=ts/);
  });
});

describe.skipIf(skip !== undefined)('udpcast parity on the native kernels', () => {
  it('equals the TS reference for 200 seeded stripes (k 1..128, rows 0..127)', () => {
    const coder = nativeUdpcastParityCoder(new NativeReedSolomon());
    const rand = mulberry32(0x5eed5);
    const n = (m: number) => Math.floor(rand() * m);
    for (let round = 0; round < 200; round++) {
      const bb = [64, 1456, 1000][round % 3]!;
      const k = round < 2 ? [1, 128][round]! : 1 + n(128);
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
