// The CPU breakdown tables of the benches (bench/cpu-breakdown.ts): a CLI's --json `cpu` in
// s/GB, means over receivers, medians over runs, and the table that puts sender and receiver
// side by side.

import { describe, expect, it } from 'vitest';
import { breakdownTable, meanStages, medianStages, stagesPerGB } from '../../../bench/cpu-breakdown.js';

const json = (totalMs: number, stages: Record<string, number>) => ({ cpu: { clock: 'thread', totalMs, stages } });

describe('CPU breakdown', () => {
  it('turns a report into s/GB per stage, and leaves a report without `cpu` out', () => {
    expect(stagesPerGB(json(500, { hash: 100, startup: 50 }), 2e8)).toEqual({ total: 2.5, hash: 0.5, startup: 0.25 });
    expect(stagesPerGB({ cpuUserMs: 1 }, 1e9)).toBeUndefined();
    expect(stagesPerGB(undefined, 1e9)).toBeUndefined();
  });

  it('means over receivers (all or nothing), medians over runs (of those that have one)', () => {
    expect(
      meanStages([
        { hash: 1, total: 3 },
        { hash: 3, total: 5 },
      ]),
    ).toEqual({ hash: 2, total: 4 });
    expect(meanStages([{ hash: 1 }, undefined])).toBeUndefined();
    expect(medianStages([{ hash: 1 }, { hash: 5 }, { hash: 2 }, undefined])).toEqual({ hash: 2 });
    expect(medianStages([{ hash: 1 }, { hash: 2 }])).toEqual({ hash: 1.5 });
    expect(medianStages([undefined])).toBeUndefined();
  });

  it('a row per stage either side measured, in a fixed order, then the totals', () => {
    const t = breakdownTable({ sendSyscalls: 2, hash: 0.58, total: 5 }, { recvSyscalls: 0.6, hash: 0.57, fec: 0, total: 4 });
    expect(t[0]).toBe('| where the CPU goes | sender s/GB | receiver s/GB |');
    expect(t.slice(2).map((l) => l.split(' | ').slice(-2).join(' | '))).toEqual(['2.00 | — |', '— | 0.60 |', '0.58 | 0.57 |', '5.00 | 4.00 |']);
  });
});
