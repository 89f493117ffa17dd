// common/cpu-clock.ts's CpuStage: the first intervals are timed exactly, later ones by a random
// draw, a timed one counting CPU_SAMPLE_EVERY times; an untimed one adds nothing.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { CPU_EXACT_INTERVALS, CPU_SAMPLE_EVERY, CpuStage, cpuBreakdown, cpuClockKind, cpuStart, threadCpuMs } from '../../../common/cpu-clock.js';

/** Runs on this thread until its CPU clock advanced by at least `ms`. */
function burn(ms: number): void {
  const until = threadCpuMs() + ms;
  let x = 0;
  while (threadCpuMs() < until) for (let i = 0; i < 1000; i++) x += i;
  expect(x).toBeGreaterThan(0);
}

describe('CpuStage', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('times its first CPU_EXACT_INTERVALS intervals at weight 1, without drawing', () => {
    const random = vi.spyOn(Math, 'random');
    const stage = new CpuStage();
    const first = stage.begin();
    expect(first).toBeGreaterThanOrEqual(0);
    burn(2);
    stage.end(first);
    // Weight 1: about what it ran, well under CPU_SAMPLE_EVERY times that.
    expect(stage.ms).toBeGreaterThanOrEqual(2);
    expect(stage.ms).toBeLessThan(2 * CPU_SAMPLE_EVERY);
    for (let i = 1; i < CPU_EXACT_INTERVALS; i++) {
      const t0 = stage.begin();
      expect(t0).toBeGreaterThanOrEqual(0);
      stage.end(t0);
    }
    expect(random).not.toHaveBeenCalled();
  });

  it('then times the intervals the draw picks, each counting CPU_SAMPLE_EVERY times, and skips the rest', () => {
    const stage = new CpuStage();
    for (let i = 0; i < CPU_EXACT_INTERVALS; i++) stage.end(stage.begin());
    const exact = stage.ms;

    vi.spyOn(Math, 'random').mockReturnValue(0.5); // not drawn
    const skipped = stage.begin();
    expect(skipped).toBe(-1);
    burn(2);
    stage.end(skipped);
    expect(stage.ms).toBe(exact);

    vi.spyOn(Math, 'random').mockReturnValue(0); // drawn
    const timed = stage.begin();
    expect(timed).toBeLessThanOrEqual(-2);
    burn(2);
    stage.end(timed);
    expect(stage.ms - exact).toBeGreaterThanOrEqual(2 * CPU_SAMPLE_EVERY);
  });

  it('lets intervals of one stage nest, each with its own weight', () => {
    const stage = new CpuStage();
    for (let i = 0; i < CPU_EXACT_INTERVALS - 1; i++) stage.end(stage.begin());
    const exact = stage.ms;
    const outer = stage.begin(); // the last exact one
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const inner = stage.begin(); // drawn
    burn(1);
    stage.end(inner);
    stage.end(outer);
    // inner counts 16 times its >= 1 ms, outer once its >= 1 ms.
    expect(stage.ms - exact).toBeGreaterThanOrEqual(1 + CPU_SAMPLE_EVERY);
    expect(outer).toBeGreaterThanOrEqual(0);
  });

  it("cpuBreakdown: a stage measured on a thread of its own adds to its name and comes out of the other threads' time", () => {
    const start = cpuStart();
    burn(2);
    const without = cpuBreakdown(start, { hash: 1 });
    expect(cpuBreakdown(start, { hash: 1 }, { hash: 2 }).stages.hash).toBe(3);
    if (cpuClockKind() === 'thread') {
      // All the other threads' time so far, as one thread's stage: what is left is what they
      // ran between the two calls (each measures anew), far below 20 ms.
      const others = without.stages.otherThreads!;
      const taken = cpuBreakdown(start, { hash: 1 }, { hash: others });
      expect(taken.stages.hash).toBe(1 + others);
      expect(taken.stages.otherThreads).toBeLessThan(20);
    }
    // More than the other threads ran: clamped at 0, never negative.
    expect(cpuBreakdown(start, {}, { hash: 1e9 }).stages.otherThreads).toBe(0);
  });
});
