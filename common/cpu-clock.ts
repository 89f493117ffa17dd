// CPU time for the drivers' breakdown of where a run's CPU goes (each --json report's `cpu`).
// `threadCpuMs()` is the calling thread's CPU time when the native UDP addon is loaded
// (CLOCK_THREAD_CPUTIME_ID: what this thread ran, excluding the libuv pool and V8's helper
// threads, and nothing of time spent preempted), else the whole process's (process.cpuUsage).
// Drivers read it around whole batches (a socket wake, a slice's hash), never per datagram:
// each read is a syscall of a few hundred ns.

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
 */
export function cpuBreakdown(start: CpuStart, mainStages: Readonly<Record<string, number>>): CpuBreakdown {
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
  stages.otherThreads = kind === 'thread' ? Math.max(0, processMs - start.processMs - mainMs) : 0;
  return { clock: kind, totalMs: processMs, stages };
}
