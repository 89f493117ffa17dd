// Where rackcast's CPU goes, per GB of image: the stages each CLI reports in its --json `cpu`
// (common/cpu-clock.ts; the stages: sender/driver.ts and receiver/driver.ts), turned into
// seconds per 10^9 image bytes, medians over runs, and a table with the sender and the
// receiver side by side, so the next thing to work on is the top row. Both e2e-lab.ts and
// the bench matrix print it.

import { medianOfSome } from './median.js';

const GB = 1e9;

/** The stages in the order the table shows them, and what each is. */
export const CPU_STAGES: readonly (readonly [string, string])[] = [
  ['startup', 'startup: Node, module loading, before the driver runs'],
  ['sendSyscalls', 'kernel: send syscalls (the sender’s DATA: on its send thread; in the lab also the bridge, veths and receivers’ IP stack)'],
  ['recvSyscalls', 'kernel: receive syscalls'],
  ['recvCopy', 'copy: received datagrams into slices (placement) or the slab'],
  ['dataJs', 'JS per datagram: send loop / read loop and protocol core'],
  ['fec', 'FEC: encoding / decoding'],
  ['hash', 'SHA-256'],
  ['sinkCalls', 'sink on the main thread (disk writer copies, decompression)'],
  ['feedback', 'feedback: reading and handling NAK/STATUS/REPORT'],
  ['mainOther', 'main thread, rest: event loop, timers, control, GC'],
  ['otherThreads', 'other threads: file reads/writes and fsync (libuv pool), V8’s GC and JIT compiler threads'],
];

export type StagesPerGB = Record<string, number>;

/** A CLI's --json `cpu` as s/GB per stage (and `total`), or undefined when it has none. */
export function stagesPerGB(json: Record<string, unknown> | undefined, imageBytes: number): StagesPerGB | undefined {
  const cpu = json?.cpu as { totalMs?: unknown; stages?: Record<string, unknown> } | undefined;
  if (cpu === undefined || typeof cpu.totalMs !== 'number' || typeof cpu.stages !== 'object' || cpu.stages === null) return undefined;
  const gb = imageBytes / GB;
  const out: StagesPerGB = { total: cpu.totalMs / 1000 / gb };
  for (const [k, v] of Object.entries(cpu.stages)) if (typeof v === 'number') out[k] = v / 1000 / gb;
  return out;
}

/** The mean of several processes' stages (the receivers of one run). */
export function meanStages(xs: readonly (StagesPerGB | undefined)[]): StagesPerGB | undefined {
  const have = xs.filter((x): x is StagesPerGB => x !== undefined);
  if (have.length === 0 || have.length < xs.length) return undefined;
  const out: StagesPerGB = {};
  for (const k of new Set(have.flatMap((x) => Object.keys(x)))) out[k] = have.reduce((a, x) => a + (x[k] ?? 0), 0) / have.length;
  return out;
}

/** Per stage, the median over runs (runs without a breakdown are left out). */
export function medianStages(xs: readonly (StagesPerGB | undefined)[]): StagesPerGB | undefined {
  const have = xs.filter((x): x is StagesPerGB => x !== undefined);
  if (have.length === 0) return undefined;
  const out: StagesPerGB = {};
  for (const k of new Set(have.flatMap((x) => Object.keys(x)))) out[k] = medianOfSome(have.map((x) => x[k] ?? 0));
  return out;
}

function cell(x: number | undefined): string {
  return x === undefined ? '—' : x.toFixed(2);
}

/**
 * A Markdown table: one row per stage either side reported, sender and receiver CPU s/GB,
 * then the totals (a stage's medians need not add up to the median total).
 */
export function breakdownTable(sender: StagesPerGB | undefined, receiver: StagesPerGB | undefined): string[] {
  const lines = ['| where the CPU goes | sender s/GB | receiver s/GB |', '|---|--:|--:|'];
  for (const [k, label] of CPU_STAGES) {
    const s = sender?.[k];
    const r = receiver?.[k];
    if (s === undefined && r === undefined) continue;
    if ((s ?? 0) < 0.005 && (r ?? 0) < 0.005) continue;
    lines.push(`| ${label} | ${cell(s)} | ${cell(r)} |`);
  }
  lines.push(`| **total** (user + system, whole process) | ${cell(sender?.total)} | ${cell(receiver?.total)} |`);
  return lines;
}
