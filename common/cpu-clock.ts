// CPU time for the drivers' breakdown of where a run's CPU goes (each --json report's `cpu`).
// `threadCpuMs()` is the calling thread's CPU time when the native UDP addon is loaded
// (CLOCK_THREAD_CPUTIME_ID: what this thread ran, excluding the libuv pool and V8's helper
// threads, and nothing of time spent preempted), else the whole process's (process.cpuUsage).
// Drivers read it around whole batches (a socket wake, a slice's hash), never per datagram,
// and through a CpuStage, which reads it around a sample of the intervals only: each read is
// a syscall, 0.7 us on the lab's VM (CLOCK_THREAD_CPUTIME_ID has no vDSO path), and reading
// it around every interval cost the sender 0.45 s/GB at 5% loss (FEC calls, wakes) and the
// receiver 0.2 s/GB: more than some of the stages it measured.

import { loadUdpAddon, type NativeUdpAddon } from '../native/udp-addon.js';

let addon: NativeUdpAddon | null | undefined;

function clockAddon(): NativeUdpAddon | null {
  if (addon === undefined) {
    const load = loadUdpAddon();
    addon = load.ok ? load.addon : null;
  }
  return addon;
}

/** 'thread' when threadCpuMs() measures the calling thread alone, 'process' when the whole process. */
export function cpuClockKind(): 'thread' | 'process' {
  return clockAddon() !== null ? 'thread' : 'process';
}

export function threadCpuMs(): number {
  const a = clockAddon();
  if (a !== null) return a.threadCpuNs() / 1e6;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A stage's first intervals are timed every one: short runs and rare stages stay exact. */
export const CPU_EXACT_INTERVALS = 64;
/** After those, one interval in CPU_SAMPLE_EVERY, drawn at random, is timed and counts that many times. */
export const CPU_SAMPLE_EVERY = 16;

/**
 * One stage's CPU time on the calling thread, from the clock read around a random sample of
 * its intervals: every interval up to CPU_EXACT_INTERVALS, then each with probability
 * 1/CPU_SAMPLE_EVERY, weighted by CPU_SAMPLE_EVERY (an unbiased estimate, whose error over the
 * thousands of intervals of a transfer is a few percent of the stage). The draw does not look
 * at the interval, so nested stages and differences of stages stay unbiased too.
 *
 *     const t0 = stage.begin();
 *     ... the interval ...
 *     stage.end(t0);
 */
export class CpuStage {
  /** The stage's CPU ms so far. */
  ms = 0;
  #intervals = 0;

  /**
   * Starts an interval: what end() needs, -1 when this one is not timed. The weight rides in
   * the sign (a timed start is >= 0 at weight 1, or -2 - start at CPU_SAMPLE_EVERY), so
   * intervals of one stage may nest.
   */
  begin(): number {
    if (this.#intervals < CPU_EXACT_INTERVALS) {
      this.#intervals++;
      return threadCpuMs();
    }
    return Math.random() * CPU_SAMPLE_EVERY < 1 ? -2 - threadCpuMs() : -1;
  }

  /** Ends the interval begin() started. */
  end(start: number): void {
    if (start === -1) return;
    if (start >= 0) this.ms += threadCpuMs() - start;
    else this.ms += CPU_SAMPLE_EVERY * (threadCpuMs() - (-2 - start));
  }
}

/** The whole process's CPU time (user + system, every thread). */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Where a run's CPU time went, stage by stage: every stage's CPU ms (they add up to totalMs,
 * the process's user + system time at the end), and which clock measured the per-thread
 * stages. Each driver says what its stages are (sender/driver.ts, receiver/driver.ts).
 */
export interface CpuBreakdown {
  readonly clock: 'thread' | 'process';
  readonly totalMs: number;
  readonly stages: Readonly<Record<string, number>>;
}

/** Marks the CPU clocks at a driver's start, for the breakdown at its end. */
export interface CpuStart {
  readonly processMs: number;
  readonly mainMs: number;
}

export function cpuStart(): CpuStart {
  return { processMs: processCpuMs(), mainMs: threadCpuMs() };
}

/**
 * The breakdown of a run: `startup` (the process's CPU before the driver ran), the main-thread
 * stages measured (`mainStages`), `mainOther` (the rest of the main thread's time since the
 * start: the event loop, timers, logging, GC on the main thread) and `otherThreads` (libuv's
 * pool, which does the file reads and writes and fsync, and V8's GC and compiler threads).
 * With the process clock (no native addon) the main thread cannot be told from the others:
 * `otherThreads` is then 0 and `mainOther` takes what the stages do not explain.
 * `threadStages`: stages run on threads of their own (the sender's hash thread), added to the
 * stage of that name and taken out of `otherThreads`.
 */
export function cpuBreakdown(start: CpuStart, mainStages: Readonly<Record<string, number>>, threadStages: Readonly<Record<string, number>> = {}): CpuBreakdown {
  const processMs = processCpuMs();
  const kind = cpuClockKind();
  const mainMs = kind === 'thread' ? threadCpuMs() - start.mainMs : processMs - start.processMs;
  let measured = 0;
  const stages: Record<string, number> = { startup: start.processMs };
  for (const [k, v] of Object.entries(mainStages)) {
    stages[k] = Math.max(0, v);
    measured += Math.max(0, v);
  }
  stages.mainOther = Math.max(0, mainMs - measured);
  let others = kind === 'thread' ? Math.max(0, processMs - start.processMs - mainMs) : 0;
  for (const [k, v] of Object.entries(threadStages)) {
    // Measured on its own thread: part of otherThreads with the thread clock, of mainOther without.
    const ms = Math.max(0, v);
    stages[k] = (stages[k] ?? 0) + ms;
    if (kind === 'thread') others -= ms;
    else stages.mainOther = Math.max(0, stages.mainOther - ms);
  }
  stages.otherThreads = Math.max(0, others);
  return { clock: kind, totalMs: processMs, stages };
}
