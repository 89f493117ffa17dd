// One receiver as the operator sees it: the same figures in the live table
// (sender/live-table.ts), the --events lines (sender/events-log.ts) and --json. Made from
// the core's receiver records and the HEARTBEAT figures it keeps (sender/core/health.ts).

import { CatchUpWhy } from '../protocol/messages/catch-up.js';
import { LIMIT_NAMES } from '../protocol/messages/heartbeat.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import { reasonName } from '../protocol/reasons.js';
import type { ReceiverRecord, RosterHost } from './core.js';
import { hex } from './log-events.js';

/** Why a node went to the catch-up pass, as --events and --json name it. */
export const CATCH_UP_WHY_NAMES: Readonly<Record<CatchUpWhy, string>> = {
  [CatchUpWhy.Slow]: 'slow',
  [CatchUpWhy.BelowMinRate]: 'min-rate',
  [CatchUpWhy.LateInOrder]: 'late-in-order',
};

export type NodeState = 'joined' | 'live' | 'catch-up' | 'verifying' | 'verified' | 'failed' | 'dropped' | 'left' | 'missing';

export interface NodeView {
  /** The --hosts line, else the address. */
  readonly name: string;
  /** The receiver id in hex ('-' for a host that never joined). */
  readonly id: string;
  readonly address: string;
  readonly state: NodeState;
  readonly bytes: number;
  /** Share of the image written, 0..1; undefined while the size is unknown. */
  readonly done: number | undefined;
  /** Image bytes a second its sink takes now; once finished, its average (undefined: no two heartbeats yet). */
  readonly rateBps: number | undefined;
  readonly lossShare: number | undefined;
  readonly repairShare: number | undefined;
  /** Bytes a second its last stage writes (disk, files, pipe), after decompression. */
  readonly outputBps: number | undefined;
  /** What limits it, as it said: net, disk, decomp, cpu or '-'. */
  readonly limit: string;
  /** Why it failed, was dropped or left ('' otherwise). */
  readonly detail: string;
  /** From its JOIN (or the start, whichever is later) to its end; undefined while it runs. */
  readonly seconds: number | undefined;
  /** Why it went to the catch-up pass (CATCH_UP_WHY_NAMES), and when, in seconds from the start; undefined: it did not. */
  readonly catchUp: string | undefined;
  readonly catchUpAtSeconds: number | undefined;
}

/** `imageBytes`: the size if known (IMAGE_BYTES_UNKNOWN otherwise); `startedAtMs`: the transfer's START, on the core's clock. */
export function nodeView(
  r: Readonly<ReceiverRecord>,
  o: { readonly imageBytes: number; readonly announcing: boolean; readonly startedAtMs: number | undefined },
): NodeView {
  const f = r.health.figures;
  const active = r.state === 'active';
  const state: NodeState = !active ? r.state : o.announcing ? 'joined' : r.complete ? 'verifying' : r.catchUp ? 'catch-up' : 'live';
  const from = Math.max(r.joinedAtMs, o.startedAtMs ?? r.joinedAtMs);
  const seconds = r.resolvedAtMs === undefined || o.startedAtMs === undefined ? undefined : Math.max(0, r.resolvedAtMs - from) / 1000;
  return {
    name: r.host ?? r.address,
    id: hex(r.id),
    address: r.address,
    state,
    bytes: r.bytesWritten,
    done: o.imageBytes === IMAGE_BYTES_UNKNOWN ? undefined : o.imageBytes === 0 ? 1 : Math.min(1, r.bytesWritten / o.imageBytes),
    // Running: its rate now; finished: its average over the transfer.
    rateBps: active ? f.rateBps : seconds !== undefined && seconds > 0 ? r.bytesWritten / seconds : undefined,
    lossShare: f.lossShare,
    repairShare: f.repairShare,
    outputBps: active ? f.outputBps : undefined,
    limit: active ? (LIMIT_NAMES[f.limit] ?? '-') : '-',
    detail: r.state === 'verified' || active ? '' : r.detail || reasonName(r.reason),
    seconds,
    catchUp: r.catchUpWhy === undefined ? undefined : CATCH_UP_WHY_NAMES[r.catchUpWhy],
    catchUpAtSeconds: r.catchUpAtMs === undefined || o.startedAtMs === undefined ? undefined : Math.max(0, r.catchUpAtMs - o.startedAtMs) / 1000,
  };
}

/** A listed host that never joined. */
export function missingView(h: RosterHost): NodeView {
  return {
    name: h.name,
    id: '-',
    address: h.addresses.join(',') || '-',
    state: 'missing',
    bytes: 0,
    done: 0,
    rateBps: undefined,
    lossShare: undefined,
    repairShare: undefined,
    outputBps: undefined,
    limit: '-',
    detail: 'never joined',
    seconds: undefined,
    catchUp: undefined,
    catchUpAtSeconds: undefined,
  };
}

const PROBLEM: ReadonlySet<NodeState> = new Set(['failed', 'dropped', 'left', 'missing']);

/**
 * The order of the live table: what needs the operator first (failed, dropped, missing),
 * then the nodes still running, the least done first, then the verified ones by name.
 */
export function slowestFirst(a: NodeView, b: NodeView): number {
  const rank = (v: NodeView): number => (PROBLEM.has(v.state) ? 0 : v.state === 'verified' ? 2 : 1);
  const d = rank(a) - rank(b);
  if (d !== 0) return d;
  if (rank(a) === 1) {
    const x = (a.done ?? 0) - (b.done ?? 0);
    if (x !== 0) return x;
  }
  return a.name.localeCompare(b.name, 'en', { numeric: true }) || a.id.localeCompare(b.id);
}
