// How udp-sender --clone-reports shows each node's clone (CLONE_REPORT, sender/core/clone-reports.ts):
// the table's host / table / fixups / bootloader columns, the --json object, and how many
// verified nodes did not finish their clone (exit code 4, README "Exit codes").

import { CLONE_BOOTLOADER_NAMES, CLONE_STEP_NAMES, CLONE_TABLE_NAMES, CloneOutcome, type CloneReport, CloneStage } from '../protocol/messages/clone-report.js';
import type { CloneReportState } from './core.js';

export interface CloneEntry {
  readonly state: CloneReportState;
  readonly report?: CloneReport;
}

const NONE = '—';

function stage(s: CloneStage): string {
  return s === CloneStage.Ok ? 'ok' : s === CloneStage.Failed ? 'failed' : s === CloneStage.None ? 'none' : 'not run';
}

function bootloader(r: CloneReport): string {
  const kind = CLONE_BOOTLOADER_NAMES[r.bootloaderKind];
  if (r.bootloader === CloneStage.Ok) return kind;
  if (r.bootloader === CloneStage.None) return 'none';
  return `${kind} ${stage(r.bootloader)}`;
}

/** The clone columns of one row, and what goes into its detail column. */
export function cloneColumns(e: CloneEntry, waitS: number): { host: string; table: string; fixups: string; bootloader: string; detail: string } {
  const r = e.report;
  if (r === undefined) {
    const detail = e.state === 'missing' ? `no clone report within ${waitS} s` : '';
    return { host: NONE, table: NONE, fixups: NONE, bootloader: NONE, detail };
  }
  const failed = r.outcome === CloneOutcome.Failed ? `clone failed at ${CLONE_STEP_NAMES[r.failedStep]}${r.detail === '' ? '' : `: ${r.detail}`}` : '';
  return { host: r.host || NONE, table: CLONE_TABLE_NAMES[r.table], fixups: stage(r.fixups), bootloader: bootloader(r), detail: failed };
}

/** The --json object of one receiver's clone. */
export function cloneJson(e: CloneEntry): Record<string, unknown> {
  const r = e.report;
  if (r === undefined) return { state: e.state };
  return {
    state: e.state,
    ok: r.outcome === CloneOutcome.Done,
    host: r.host,
    table: CLONE_TABLE_NAMES[r.table],
    partitionsFormatted: r.partitionsFormatted,
    partitionsKept: r.partitionsKept,
    fixups: stage(r.fixups),
    bootloader: bootloader(r),
    failedStep: r.outcome === CloneOutcome.Failed ? CLONE_STEP_NAMES[r.failedStep] : undefined,
    detail: r.detail === '' ? undefined : r.detail,
    seconds: r.elapsedMs / 1000,
  };
}

/** Nodes that verified but did not finish their clone: no report in time, or a failed one. */
export function cloneProblems(entries: readonly CloneEntry[]): number {
  return entries.filter((e) => e.state === 'missing' || (e.report !== undefined && e.report.outcome === CloneOutcome.Failed)).length;
}
