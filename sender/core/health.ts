// What the sender knows of each receiver's pace and health, from its HEARTBEATs: how fast
// its sink takes the image, what its network loses, how much of it needed repair, how busy
// its pipeline and CPU are, and what it says limits it. The live table, the per-node
// figures of --json and --events, and the slow-node policy read it; flow control and
// repair never do.
//
// What holds: at most HEALTH_SAMPLES samples per receiver, newest last, each newer (by the
// receiver's own clock) than the one before; a heartbeat that is not newer (a duplicate, a
// reordered one) changes nothing. Rates are over the samples of the last RATE_WINDOW_MS of
// the receiver's clock, so feedback jitter does not bend them. The counters on the wire
// wrap at 2^32, and differences are taken modulo 2^32.

import type { Heartbeat } from '../../protocol/messages/heartbeat.js';
import { HEARTBEAT_FLAG_CATCH_UP, Limit } from '../../protocol/messages/heartbeat.js';

/** Samples kept per receiver. */
export const HEALTH_SAMPLES = 16;
/** Rates and shares are taken over this much of the receiver's time (or what the samples span). */
export const RATE_WINDOW_MS = 2000;
/** The "now" of a busy share: taken over the newest samples that span at least this (or what they span). */
export const RECENT_WINDOW_MS = 300;
/** A sink busy less than this share of the time still counts as this busy: no capacity is infinite. */
const MIN_BUSY_SHARE = 0.05;

/** A HEARTBEAT's running totals, and when it arrived (on the sender's clock). */
type Sample = { readonly atMs: number } & Pick<
  Heartbeat,
  'elapsedMs' | 'bytesWritten' | 'outputBytes' | 'sinkBusyMs' | 'outputBusyMs' | 'packetsRead' | 'packetsSent'
>;

/** The figures of one receiver, as of its latest heartbeat (all undefined before the second). */
export interface HealthFigures {
  /** Image bytes per second its sink took. */
  readonly rateBps: number | undefined;
  /** Bytes per second its last stage wrote (after decompression). */
  readonly outputBps: number | undefined;
  /** Share of the DATA sent to it that it did not read. */
  readonly lossShare: number | undefined;
  /** Share of the time a delivered slice waited for its sink: 1 is a sink that never keeps up. */
  readonly sinkBusyShare: number | undefined;
  /** The same over the newest samples only (RECENT_WINDOW_MS): how busy its sink is now, not since the window began. */
  readonly recentSinkBusyShare: number | undefined;
  /** Image bytes per second its sink took over those newest samples. */
  readonly recentRateBps: number | undefined;
  /** Share of its data blocks that had to be rebuilt or resent, since it began. */
  readonly repairShare: number | undefined;
  /** Its event loop's busy share in its last interval. */
  readonly cpuShare: number | undefined;
  /** The receiver's time the rates and shares above are taken over (0: none yet). */
  readonly spanMs: number;
  readonly limit: Limit;
  /** It said it is in the catch-up pass. */
  readonly catchUp: boolean;
  /** Its latest heartbeat arrived then (sender's clock); undefined: none yet. */
  readonly heardAtMs: number | undefined;
}

const u32 = (a: number, b: number): number => (a - b) >>> 0;

/** The figures that need two samples, before there are two. */
const NO_RATES = {
  rateBps: undefined,
  outputBps: undefined,
  lossShare: undefined,
  sinkBusyShare: undefined,
  recentSinkBusyShare: undefined,
  recentRateBps: undefined,
  spanMs: 0,
} as const satisfies Partial<HealthFigures>;

export class ReceiverHealth {
  private readonly samples: Sample[] = []; // bounded by HEALTH_SAMPLES
  private last: Heartbeat | undefined;
  private capacity: number | undefined;
  private fig: HealthFigures = { ...NO_RATES, repairShare: undefined, cpuShare: undefined, limit: Limit.Unknown, catchUp: false, heardAtMs: undefined };

  constructor(private readonly blockBytes: number) {}

  get figures(): HealthFigures {
    return this.fig;
  }

  /** Heartbeats taken (that were newer than the one before), at most HEALTH_SAMPLES. */
  get heard(): number {
    return this.samples.length;
  }

  /**
   * What it could take, as far as its figures tell: the rate it wrote at over the share of
   * the time its sink or its CPU was busy (a node that wrote 8 MB/s with its sink busy a
   * quarter of the time could have taken 32). A receiver that neither wrote nor was busy in
   * the window (starved: the rack waits for someone else) keeps what it showed last.
   * Undefined before it showed anything.
   */
  capacityBps(): number | undefined {
    return this.capacity;
  }

  /**
   * The transfer starts: what came before (a receiver idle while the sender announced) says
   * nothing about its pace. Rates count from the next heartbeats; the last limit and CPU
   * share stay for the table.
   */
  restart(): void {
    this.samples.length = 0;
    this.capacity = undefined;
    this.fig = { ...this.fig, ...NO_RATES };
  }

  /** Takes a heartbeat at `now`; false when it was not newer than the last and changed nothing. */
  take(hb: Heartbeat, now: number): boolean {
    const prev = this.samples.at(-1);
    if (prev !== undefined && !(hb.elapsedMs > prev.elapsedMs)) return false;
    this.samples.push({
      atMs: now,
      elapsedMs: hb.elapsedMs,
      bytesWritten: hb.bytesWritten,
      outputBytes: hb.outputBytes,
      sinkBusyMs: hb.sinkBusyMs,
      outputBusyMs: hb.outputBusyMs,
      packetsRead: hb.packetsRead,
      packetsSent: hb.packetsSent,
    });
    if (this.samples.length > HEALTH_SAMPLES) this.samples.shift();
    this.last = hb;
    this.fig = this.compute(now);
    const f = this.fig;
    if (f.rateBps !== undefined && (f.rateBps > 0 || (f.sinkBusyShare ?? 0) > 0 || (f.cpuShare ?? 0) > 0)) {
      const busy = Math.max(f.sinkBusyShare ?? 0, f.cpuShare ?? 0, MIN_BUSY_SHARE);
      this.capacity = f.rateBps / Math.min(1, busy);
    }
    return true;
  }

  private compute(now: number): HealthFigures {
    const hb = this.last!;
    const newest = this.samples[this.samples.length - 1]!; // take() added one
    // The oldest sample still within the window (at least the one before the newest), and
    // the oldest within the recent one.
    let oldest: Sample | undefined;
    let recent: Sample | undefined;
    for (let i = this.samples.length - 2; i >= 0; i--) {
      oldest = this.samples[i]!;
      if (recent === undefined && newest.elapsedMs - oldest.elapsedMs >= RECENT_WINDOW_MS) recent = oldest;
      if (newest.elapsedMs - oldest.elapsedMs >= RATE_WINDOW_MS) break;
    }
    const blocks = hb.bytesWritten / this.blockBytes;
    const common = {
      repairShare: blocks >= 1 ? Math.min(1, hb.repairedBlocks / blocks) : 0,
      cpuShare: hb.cpuPermille / 1000,
      limit: hb.limit,
      catchUp: (hb.flags & HEARTBEAT_FLAG_CATCH_UP) !== 0,
      heardAtMs: now,
    };
    if (oldest === undefined) {
      return { ...common, ...NO_RATES };
    }
    recent ??= oldest;
    const dtMs = newest.elapsedMs - oldest.elapsedMs;
    const recentMs = newest.elapsedMs - recent.elapsedMs;
    const sent = u32(newest.packetsSent, oldest.packetsSent);
    const read = u32(newest.packetsRead, oldest.packetsRead);
    return {
      ...common,
      spanMs: dtMs,
      rateBps: (Math.max(0, newest.bytesWritten - oldest.bytesWritten) * 1000) / dtMs,
      outputBps: (Math.max(0, newest.outputBytes - oldest.outputBytes) * 1000) / dtMs,
      lossShare: sent > 0 ? Math.max(0, Math.min(1, 1 - read / sent)) : 0,
      sinkBusyShare: Math.min(1, u32(newest.sinkBusyMs, oldest.sinkBusyMs) / dtMs),
      recentSinkBusyShare: Math.min(1, u32(newest.sinkBusyMs, recent.sinkBusyMs) / recentMs),
      recentRateBps: (Math.max(0, newest.bytesWritten - recent.bytesWritten) * 1000) / recentMs,
    };
  }
}
