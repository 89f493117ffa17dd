// The native coder's own contract: kernel selection and fallback, identical errors, bounded
// caches, and the awkward inputs (aliasing, zero-length blocks, big batches). Byte equality
// with the TS reference over many random sets is in rs-differential.test.ts.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadErasureCoder, NativeReedSolomon, nativeRsStatus, RS_KERNEL_ENV } from '../../../common/fec.js';
import { CauchyReedSolomon } from '../../../protocol/fec/cauchy-rs.js';
import type { ErasureCoder } from '../../../protocol/fec/erasure-coder.js';
import { mulberry32 } from '../../support/prng.js';

const status = nativeRsStatus();
const kernels = status.loaded ? status.kernels : [];
if (!status.loaded) console.warn(`rs.test.ts: native RS addon not available, its tests are skipped: ${status.reason}`);

function randomBlocks(seed: number, k: number, len: number): Uint8Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: k }, () => Uint8Array.from({ length: len }, () => (rand() * 256) | 0));
}

function parityOf(coder: ErasureCoder, data: readonly Uint8Array[], index: number): Uint8Array {
  const out = new Uint8Array(data[0]!.length);
  coder.encodeParity(data, index, out);
  return out;
}

describe('loadErasureCoder', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.doUnmock('node:fs');
    vi.resetModules();
  });

  it.skipIf(!status.loaded)('returns the native coder with the best kernel and no fallback reason', () => {
    vi.stubEnv(RS_KERNEL_ENV, '');
    const got = loadErasureCoder();
    expect(got.coder).toBeInstanceOf(NativeReedSolomon);
    expect(got.kind).toBe(status.loaded ? status.bestKernel : '');
    expect(got.fallbackReason).toBeUndefined();
  });

  it.skipIf(!status.loaded)(`honours ${RS_KERNEL_ENV} for each kernel and for 'ts'`, () => {
    for (const kernel of kernels) {
      vi.stubEnv(RS_KERNEL_ENV, kernel);
      const got = loadErasureCoder();
      expect(got.kind).toBe(kernel);
      expect((got.coder as NativeReedSolomon).kernel).toBe(kernel);
    }
    vi.stubEnv(RS_KERNEL_ENV, 'ts');
    const ts = loadErasureCoder();
    expect(ts.kind).toBe('ts');
    expect(ts.coder).toBeInstanceOf(CauchyReedSolomon);
    expect(ts.fallbackReason).toBeUndefined();
  });

  it.skipIf(!status.loaded)('falls back to the best kernel, with a reason, for a kernel this CPU lacks', () => {
    vi.stubEnv(RS_KERNEL_ENV, 'avx1024');
    const got = loadErasureCoder();
    expect(got.kind).toBe(status.loaded ? status.bestKernel : '');
    expect(got.fallbackReason).toMatch(/avx1024.*not available/);
  });

  it('falls back to the TS reference, with a reason, when the .node file is missing', async () => {
    vi.resetModules();
    vi.doMock('node:fs', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:fs')>()), existsSync: () => false }));
    const fresh = await import('../../../common/fec.js');
    const got = fresh.loadErasureCoder({ kernel: 'scalar' });
    expect(got.kind).toBe('ts');
    expect(got.coder.name).toBe('ts-cauchy'); // a fresh module graph: not the same class object
    expect(got.fallbackReason).toMatch(/not built/);
    expect(fresh.nativeRsStatus().loaded).toBe(false);
    expect(() => new fresh.NativeReedSolomon()).toThrow(/not built/);
  });

  it('falls back to the TS reference when the .node file does not load', async () => {
    vi.resetModules();
    vi.doMock('node:module', async (importOriginal) => ({
      ...(await importOriginal<typeof import('node:module')>()),
      createRequire: () => () => {
        throw new Error('invalid ELF header');
      },
    }));
    vi.doMock('node:fs', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:fs')>()), existsSync: () => true }));
    const fresh = await import('../../../common/fec.js');
    const got = fresh.loadErasureCoder();
    expect(got.kind).toBe('ts');
    expect(got.fallbackReason).toMatch(/failed to load: invalid ELF header/);
    vi.doUnmock('node:module');
  });
});

describe.skipIf(!status.loaded)('NativeReedSolomon', () => {
  it('lists kernels best first and refuses unknown ones', () => {
    expect(kernels.at(-1)).toBe('scalar');
    expect(() => new NativeReedSolomon({ kernel: 'avx1024' })).toThrow(RangeError);
    expect(() => new NativeReedSolomon({ inverseCacheEntries: -1 })).toThrow(RangeError);
  });

  it.each(kernels)('%s: golden bytes 0700b3df and parity 0 = XOR, at short and long lengths', (kernel) => {
    const rs = new NativeReedSolomon({ kernel });
    expect(rs.name).toBe('native-cauchy');
    expect(rs.kernel).toBe(kernel);
    expect(rs.maxParity(1)).toBe(255);
    expect(rs.maxParity(255)).toBe(1);
    const data = [Uint8Array.of(1, 2), Uint8Array.of(3, 4), Uint8Array.of(5, 6)];
    const golden = Buffer.concat([parityOf(rs, data, 0), parityOf(rs, data, 1)]).toString('hex');
    expect(golden).toBe('0700b3df');
    for (const len of [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1448, 1456, 4099]) {
      const blocks = randomBlocks(len, 13, len);
      const xor = new Uint8Array(len);
      for (const b of blocks) for (let i = 0; i < len; i++) xor[i]! ^= b[i]!;
      expect(parityOf(rs, blocks, 0)).toEqual(xor);
    }
  });

  it('throws the same errors as the TS reference on caller misuse', () => {
    const ts = new CauchyReedSolomon();
    const rs = new NativeReedSolomon();
    const block = (n = 4): Uint8Array => new Uint8Array(n);
    const data = [block(), block(), block()];
    const p = (index: number, n = 4): { index: number; bytes: Uint8Array } => ({ index, bytes: block(n) });
    const calls: ((c: ErasureCoder) => void)[] = [
      (c) => c.maxParity(0),
      (c) => c.maxParity(256),
      (c) => c.encodeParity([], 0, block()),
      (c) =>
        c.encodeParity(
          Array.from({ length: 256 }, () => block()),
          0,
          block(),
        ),
      (c) => c.encodeParity(data, -1, block()),
      (c) => c.encodeParity(data, 253, block()),
      (c) => c.encodeParity(data, 1.5, block()),
      (c) => c.encodeParity(data, 0, block(5)),
      (c) => c.encodeParity([block(), block(3)], 0, block()),
      (c) => c.encodeParities?.(data, [0, 1], [block()]),
      (c) => c.encodeParities?.(data, [0, 253], [block(), block()]),
      (c) => c.decode([], [], []),
      (c) => c.decode(data, [0], []),
      (c) => c.decode(data, [0], [p(0), p(1)]),
      (c) => c.decode(data, [3], [p(0)]),
      (c) => c.decode(data, [-1], [p(0)]),
      (c) => c.decode(data, [0, 0], [p(0), p(1)]),
      (c) => c.decode(data, [0, 1], [p(2), p(2)]),
      (c) => c.decode(data, [0], [p(253)]),
      (c) => c.decode(data, [0], [p(0, 5)]),
      (c) => c.decode([block(), block(5), block()], [0], [p(0)]),
    ];
    calls.forEach((call, i) => {
      let tsError: unknown;
      let nativeError: unknown;
      try {
        call(ts);
      } catch (e) {
        tsError = e;
      }
      try {
        call(rs);
      } catch (e) {
        nativeError = e;
      }
      expect(tsError, `call ${i}`).toBeInstanceOf(RangeError);
      expect(nativeError, `call ${i}`).toBeInstanceOf(RangeError);
      expect((nativeError as Error).message, `call ${i}`).toBe((tsError as Error).message);
    });
    expect(() => rs.decode(data, [0], [p(252)])).not.toThrow();
    expect(() => rs.encodeParity(data, 252, block())).not.toThrow();
  });

  it('handles zero-length blocks, empty loss lists and more than 255 outputs in one batch', () => {
    const rs = new NativeReedSolomon();
    const ts = new CauchyReedSolomon();
    const empty = [new Uint8Array(0), new Uint8Array(0)];
    rs.encodeParity(empty, 3, new Uint8Array(0));
    rs.decode(empty, [1], [{ index: 0, bytes: new Uint8Array(0) }]);
    const data = randomBlocks(7, 2, 40);
    const received = data.map((d) => Uint8Array.from(d));
    rs.decode(received, [], []);
    expect(received).toEqual(data);
    // 300 outputs (indices repeat) go to the addon in batches of at most 255.
    const indices = Array.from({ length: 300 }, (_, t) => t % 254);
    const outs = indices.map(() => new Uint8Array(40));
    rs.encodeParities(data, indices, outs);
    indices.forEach((index, t) => {
      expect(outs[t]).toEqual(parityOf(ts, data, index));
    });
  });

  it.each(kernels)('%s: a lost block may share memory with the parity symbol that rebuilds it', (kernel) => {
    const rs = new NativeReedSolomon({ kernel });
    const data = randomBlocks(0xa11a5, 9, 1448);
    for (const index of [0, 5]) {
      const parity = { index, bytes: parityOf(rs, data, index) };
      const received = data.map((d) => d);
      received[4] = parity.bytes; // the receiver reuses the parity buffer as the output
      rs.decode(received, [4], [parity]);
      expect(received[4]).toEqual(data[4]);
    }
  });

  it('refuses blocks whose buffer was detached after an encode described them', () => {
    const rs = new NativeReedSolomon();
    const whole = new Uint8Array(100);
    const data = [whole.subarray(0, 50), whole.subarray(50, 100)];
    const out = new Uint8Array(50);
    rs.encodeParity(data, 1, out);
    structuredClone(whole.buffer, { transfer: [whole.buffer] });
    // Same block objects as last time, so the cached description is reused; the length checks
    // (and the addon's bounds check behind them) must still refuse the now empty blocks, and a
    // zero-length encode touches nothing, as in the TS reference.
    expect(() => rs.encodeParity(data, 1, out)).toThrow(RangeError);
    expect(() => rs.encodeParity(data, 1, new Uint8Array(0))).not.toThrow();
    expect(() => new CauchyReedSolomon().encodeParity(data, 1, new Uint8Array(0))).not.toThrow();
  });

  it('keeps its caches bounded', () => {
    const rs = new NativeReedSolomon({ inverseCacheEntries: 5 });
    const off = new NativeReedSolomon({ inverseCacheEntries: 0 });
    for (let k = 1; k <= 20; k++) {
      const data = randomBlocks(k, k, 64);
      rs.encodeParities(
        data,
        [0, 1, 2].filter((i) => i < 256 - k),
        [0, 1, 2].filter((i) => i < 256 - k).map(() => new Uint8Array(64)),
      );
    }
    expect(rs.cacheStats.codingTables).toBeLessThanOrEqual(8);
    const data = randomBlocks(99, 20, 64);
    for (let n = 0; n < 40; n++) {
      const missing = [n % 20, (n + 7) % 20];
      for (const coder of [rs, off]) {
        const received = data.map((d, j) => (missing.includes(j) ? new Uint8Array(64) : d));
        coder.decode(received, missing, [
          { index: 0, bytes: parityOf(coder, data, 0) },
          { index: 3, bytes: parityOf(coder, data, 3) },
        ]);
        for (const j of missing) expect(received[j]).toEqual(data[j]);
      }
    }
    expect(rs.cacheStats.decodeEntries).toBe(5);
    expect(off.cacheStats.decodeEntries).toBeLessThanOrEqual(1);
    expect(rs.cacheStats.codingTables).toBeLessThanOrEqual(8);
  });
});
