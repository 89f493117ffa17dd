// Hostile and broken datagrams against both cores: a fixed, fast seed count for
// `npm test`; `npm run fuzz` runs the same harness (test/support/fuzz/transfer.ts) for
// minutes. Each seed builds its own session (receivers, geometry, image size known or not,
// --fec, --async, pacing, loss, reordering) and runs a whole transfer while an injector
// sends, for every genuine datagram, 0.1..2 hostile ones at the sender and at the
// receivers: mutations of real packets of every type (bit flips, truncation, extension,
// out-of-range fields, wrong session, wrong version, wrong magic, a changed type, spliced
// bodies), fresh packets with random fields, random bytes. See the harness's header for the
// properties checked on every datagram and at the end. A failure names the seed; replay it
// with `node dist/bench/fuzz.js --seed N --mode MODE --runs 1` (after npm run build).

import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPE_NAMES } from '../../../protocol/header.js';
import { fuzzDecoders } from '../../support/fuzz/decoders.js';
import { ALL_TYPES, freshPacket, MUTATIONS, mutate } from '../../support/fuzz/hostile.js';
import { addCounts, type FuzzMode, FuzzViolation, runTransferFuzz, type TransferFuzzResult } from '../../support/fuzz/transfer.js';
import { Rng } from '../../support/prng.js';

const SEEDS = 200;
const FLOOD_SEEDS = 40;

/** Runs seeds 1..n; fails on the first violation with the replay command. */
function runSeeds(mode: FuzzMode, n: number, over: { hostileRatio?: number; first?: number } = {}): TransferFuzzResult[] {
  const out: TransferFuzzResult[] = [];
  const first = over.first ?? 1;
  for (let seed = first; seed < first + n; seed++) {
    try {
      out.push(runTransferFuzz({ seed, mode, hostileRatio: over.hostileRatio }));
    } catch (e) {
      if (e instanceof FuzzViolation) {
        throw new Error(`${e.message}\nreplay: npm run build && node dist/bench/fuzz.js --seed ${seed} --mode ${mode} --runs 1`, { cause: e });
      }
      throw e;
    }
  }
  return out;
}

function totals(results: readonly TransferFuzzResult[]): {
  hostile: number;
  drops: Record<string, number>;
  byKind: Record<string, number>;
  byType: Record<string, number>;
} {
  const drops: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const byType: Record<string, number> = {};
  let hostile = 0;
  for (const r of results) {
    hostile += r.hostile;
    addCounts(drops, r.drops);
    addCounts(byKind, r.hostileByKind);
    addCounts(byType, r.hostileByType);
  }
  return { hostile, drops, byKind, byType };
}

describe('the mutation engine', () => {
  it('every mutation kind changes a datagram of every type somehow, and never throws', () => {
    const rng = new Rng(7);
    for (const type of ALL_TYPES) {
      const src = freshPacket(rng, type, { sessionId: 0x1234 });
      for (const kind of MUTATIONS) {
        let changed = false;
        for (let i = 0; i < 20 && !changed; i++) {
          const m = mutate(rng, src, kind, freshPacket(rng, ALL_TYPES[i % ALL_TYPES.length]!, { sessionId: 1 }));
          changed = Buffer.compare(Buffer.from(m.bytes), Buffer.from(src)) !== 0;
        }
        expect(changed, `${kind} of ${MESSAGE_TYPE_NAMES[type]}`).toBe(true);
      }
    }
  });
});

describe('the decoders under 100k hostile datagrams', () => {
  it('20 seeds x 5000: never throw; what they accept encodes back to the same bytes', () => {
    const byCode: Record<string, number> = {};
    for (let seed = 1; seed <= 20; seed++) addCounts(byCode, fuzzDecoders(seed, 5000));
    // Every rejection code the decoders have is reached.
    for (const code of ['ok', 'ERR_TRUNCATED', 'ERR_BAD_LENGTH', 'ERR_BAD_MAGIC', 'ERR_BAD_VERSION', 'ERR_BAD_TYPE', 'ERR_BAD_FIELD']) {
      expect(byCode[code], `${code} in ${JSON.stringify(byCode)}`).toBeGreaterThan(100);
    }
  });
});

describe(`a transfer under fire from a stranger's address (${SEEDS} seeds)`, () => {
  it('every receiver verifies a byte-identical image, the sender succeeds, every hostile datagram is counted by reason', () => {
    const results = runSeeds('foreign', SEEDS);
    const t = totals(results);
    expect(results.every((r) => r.receiversOk === r.receivers || r.description.includes('async'))).toBe(true);
    expect(t.hostile).toBeGreaterThan(10_000);
    // Drops by reason, on both sides (the engine checked each datagram's own count).
    for (const code of [
      'ERR_TRUNCATED',
      'ERR_BAD_MAGIC',
      'ERR_BAD_VERSION',
      'ERR_BAD_TYPE',
      'ERR_BAD_FIELD',
      'ERR_BAD_LENGTH',
      'ERR_WRONG_SESSION',
      'ERR_WRONG_SENDER',
    ]) {
      expect(t.drops[`receiver.${code}`], `receiver.${code}`).toBeGreaterThan(0);
    }
    for (const code of [
      'ERR_TRUNCATED',
      'ERR_BAD_MAGIC',
      'ERR_BAD_VERSION',
      'ERR_BAD_FIELD',
      'ERR_WRONG_SESSION',
      'ERR_UNKNOWN_RECEIVER',
      'ERR_FOREIGN_ADDRESS',
      'ERR_OWN',
    ]) {
      expect(t.drops[`sender.${code}`], `sender.${code}`).toBeGreaterThan(0);
    }
    // Mutations of every type were sent.
    for (const name of Object.values(MESSAGE_TYPE_NAMES)) expect(t.byType[name], name).toBeGreaterThan(0);
    for (const kind of MUTATIONS) expect(t.byKind[kind], kind).toBeGreaterThan(0);
    console.log(`fuzz, foreign: ${SEEDS} transfers, ${t.hostile} hostile datagrams (${JSON.stringify(t.byKind)}); drops ${JSON.stringify(t.drops)}`);
  });
});

describe(`a transfer under fire in the peers' own names (${SEEDS} seeds)`, () => {
  it('no core throws or spins, every run ends, and no receiver that says ok holds a wrong byte', () => {
    const results = runSeeds('spoof', SEEDS);
    const t = totals(results);
    const ok = results.reduce((n, r) => n + r.receiversOk, 0);
    const all = results.reduce((n, r) => n + r.receivers, 0);
    console.log(`fuzz, spoof: ${SEEDS} transfers, ${t.hostile} hostile datagrams; ${ok} of ${all} receivers verified (the rest failed cleanly)`);
    expect(t.hostile).toBeGreaterThan(10_000);
  });
});

describe(`a flood: 8 hostile datagrams per genuine one (${FLOOD_SEEDS} seeds each way)`, () => {
  it('from a stranger: still every receiver verifies', () => {
    const results = runSeeds('foreign', FLOOD_SEEDS, { hostileRatio: 8, first: 1001 });
    expect(totals(results).hostile).toBeGreaterThan(10_000);
  });

  it('in the peers’ names: still no throw, no spin, an end, nobody finishes wrong', () => {
    runSeeds('spoof', FLOOD_SEEDS, { hostileRatio: 8, first: 1001 });
  });
});
