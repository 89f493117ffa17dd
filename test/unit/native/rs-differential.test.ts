// Differential test: the native Reed-Solomon engine must produce exactly
// the bytes of the TS reference, for every kernel this CPU can run. Parity goes on the wire, so
// one differing byte would make a native sender and a TS receiver (or the reverse) disagree.
//
// Each seeded set draws k in 1..200, m in 1..min(40, 256 - k), a block length (odd lengths,
// lengths shorter than every vector width, and 1448), blocks laid out in one shared buffer at
// odd offsets, in separate buffers, in Node Buffers or in a SharedArrayBuffer, m random parity
// indices (often including 0, the XOR row), and a random loss pattern. It compares encode
// (batched and single) and decode, then decodes once more from corrupted parity: the system
// still has exactly one solution, so both coders must agree on it byte for byte.
//
// If the addon is not built the suite says so and skips; RACKCAST_REQUIRE_NATIVE=1 turns that
// into a failure (for machines that must have it).

import { describe, expect, it } from 'vitest';
import { NativeReedSolomon, nativeRsStatus } from '../../../common/fec.js';
import { CauchyReedSolomon } from '../../../protocol/fec/cauchy-rs.js';
import { mulberry32 } from '../../support/prng.js';

const status = nativeRsStatus();
const SETS = 1000;

if (!status.loaded) {
  console.warn(`rs-differential: SKIPPED, native RS addon not available: ${status.reason}`);
}

function randomInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** `count` distinct values from 0..n-1 in random order (partial Fisher-Yates). */
function sample(rand: () => number, n: number, count: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

function fillRandom(rand: () => number, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] = (rand() * 256) | 0;
}

function blockLength(rand: () => number): number {
  const r = rand();
  if (r < 0.25) return 1448;
  if (r < 0.45) return randomInt(rand, 1, 70); // below or around the 16/32/64-byte vector widths
  return randomInt(rand, 1, 2000);
}

type Layout = 'shared' | 'separate' | 'node-buffer' | 'sab';
const LAYOUTS: readonly Layout[] = ['shared', 'separate', 'node-buffer', 'sab'];

/** k blocks of `len` bytes laid out as `layout` says; 'shared' starts at an odd offset. */
function makeBlocks(rand: () => number, layout: Layout, k: number, len: number): Uint8Array[] {
  switch (layout) {
    case 'shared': {
      const skew = randomInt(rand, 0, 7);
      const whole = new Uint8Array(skew + k * len + 3);
      fillRandom(rand, whole);
      return Array.from({ length: k }, (_, j) => whole.subarray(skew + j * len, skew + (j + 1) * len));
    }
    case 'separate':
      return Array.from({ length: k }, () => {
        const b = new Uint8Array(len);
        fillRandom(rand, b);
        return b;
      });
    case 'node-buffer':
      return Array.from({ length: k }, () => {
        const b = Buffer.allocUnsafe(len);
        fillRandom(rand, b);
        return b;
      });
    case 'sab': {
      const whole = new Uint8Array(new SharedArrayBuffer(k * len + 1));
      fillRandom(rand, whole);
      return Array.from({ length: k }, (_, j) => whole.subarray(1 + j * len, 1 + (j + 1) * len));
    }
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Where two blocks first differ, for the failure message. */
function diff(a: Uint8Array, b: Uint8Array): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `first difference at byte ${i} of ${a.length}: ${a[i]} != ${b[i]}`;
}

describe('native RS addon', () => {
  // Without the addon this is skipped (the reason is printed above), unless it is required.
  it.skipIf(!status.loaded && process.env.RACKCAST_REQUIRE_NATIVE !== '1')(
    'is built and loads (skips the differential suite with the reason otherwise)',
    () => {
      if (!status.loaded) expect.fail(`RACKCAST_REQUIRE_NATIVE=1 but ${status.reason}`);
      expect(status.kernels).toContain('scalar');
      expect(status.kernels[0]).toBe(status.bestKernel);
    },
  );
});

describe.skipIf(!status.loaded)('NativeReedSolomon is byte-identical to CauchyReedSolomon', () => {
  const kernels = status.loaded ? status.kernels : [];

  it(`${SETS} seeded sets, every kernel on this CPU (${kernels.join(', ')})`, () => {
    const ts = new CauchyReedSolomon();
    const natives = kernels.map((kernel) => new NativeReedSolomon({ kernel }));
    let decodes = 0;
    for (let n = 0; n < SETS; n++) {
      const seed = 0xd1ff_0000 + n;
      const rand = mulberry32(seed);
      const k = randomInt(rand, 1, 200);
      const m = randomInt(rand, 1, Math.min(40, 256 - k));
      const len = blockLength(rand);
      const layout = LAYOUTS[n % LAYOUTS.length]!;
      const data = makeBlocks(rand, layout, k, len);
      const indices = sample(rand, 256 - k, m);
      if (rand() < 0.5 && !indices.includes(0)) indices[0] = 0;
      const where = `seed ${seed}: k=${k} m=${m} len=${len} layout=${layout} parity=[${indices}]`;

      const refParity = indices.map((index) => {
        const out = new Uint8Array(len);
        ts.encodeParity(data, index, out);
        return out;
      });

      const lost = randomInt(rand, 0, Math.min(m, k));
      const missing = sample(rand, k, lost);
      const used = sample(rand, m, lost);
      const corrupt = rand() < 0.25;
      const aliasParity = lost > 0 && rand() < 0.1;

      const parityFor = (ps: readonly Uint8Array[]): { index: number; bytes: Uint8Array }[] =>
        used.map((t) => {
          const bytes = Uint8Array.from(ps[t]!);
          if (corrupt) bytes[(t * 7) % len]! ^= 0x5a;
          return { index: indices[t]!, bytes };
        });
      /** The received set: lost blocks garbage-filled (or aliased to the first parity symbol). */
      const received = (parity: { bytes: Uint8Array }[]): Uint8Array[] =>
        data.map((d, j) => {
          if (!missing.includes(j)) return d;
          if (aliasParity && j === missing[0]) return parity[0]!.bytes;
          return new Uint8Array(len).fill(0xa5);
        });

      const refParityIn = parityFor(refParity);
      const refRx = received(refParityIn);
      ts.decode(refRx, missing, refParityIn);
      if (!corrupt) {
        for (const j of missing) if (!same(refRx[j]!, data[j]!)) expect.fail(`${where}: TS reference failed to rebuild block ${j}`);
      }

      natives.forEach((rs, r) => {
        const kernel = kernels[r];
        const outs = indices.map(() => new Uint8Array(len).fill(0x3c));
        rs.encodeParities(data, indices, outs);
        indices.forEach((index, t) => {
          if (!same(outs[t]!, refParity[t]!)) expect.fail(`${where} kernel=${kernel}: encodeParities(${index}) ${diff(outs[t]!, refParity[t]!)}`);
        });
        const t = n % m;
        const single = new Uint8Array(len);
        rs.encodeParity(data, indices[t]!, single);
        if (!same(single, refParity[t]!)) expect.fail(`${where} kernel=${kernel}: encodeParity(${indices[t]}) ${diff(single, refParity[t]!)}`);

        const parityIn = parityFor(refParity);
        const rx = received(parityIn);
        rs.decode(rx, missing, parityIn);
        for (const j of missing) {
          if (!same(rx[j]!, refRx[j]!)) {
            expect.fail(
              `${where} kernel=${kernel} missing=[${missing}] used=[${used.map((u) => indices[u])}] corrupt=${corrupt}: block ${j} ${diff(rx[j]!, refRx[j]!)}`,
            );
          }
        }
        for (let j = 0; j < k; j++) if (!missing.includes(j) && rx[j] !== data[j]) expect.fail(`${where}: present block ${j} replaced`);
        decodes++;
      });
    }
    expect(decodes).toBe(SETS * kernels.length);
  });

  it('agrees on every loss pattern of k=6, m=4 at 1448 bytes, for every kernel', () => {
    const ts = new CauchyReedSolomon();
    const rand = mulberry32(0x6a4);
    const k = 6;
    const len = 1448;
    const data = makeBlocks(rand, 'shared', k, len);
    const indices = [0, 1, 2, 3];
    const parity = indices.map((index) => {
      const out = new Uint8Array(len);
      ts.encodeParity(data, index, out);
      return { index, bytes: out };
    });
    const subsets = (n: number): number[][] =>
      Array.from({ length: 1 << n }, (_, mask) => Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i)));
    for (const kernel of kernels) {
      const rs = new NativeReedSolomon({ kernel });
      for (const missing of subsets(k)) {
        for (const use of subsets(4)) {
          if (use.length !== missing.length) continue;
          const rx = data.map((d, j) => (missing.includes(j) ? new Uint8Array(len) : d));
          rs.decode(
            rx,
            missing,
            use.map((t) => parity[t]!),
          );
          for (const j of missing) expect(same(rx[j]!, data[j]!), `${kernel} missing [${missing}] parity [${use}]`).toBe(true);
        }
      }
    }
  });
});
