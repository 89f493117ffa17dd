// How this receiver is doing, for its HEARTBEATs (protocol/messages/heartbeat.ts): the
// share of time its sink holds delivery back (a delivered slice not yet written), the DATA
// it read against the DATA the sender sent it, and what the driver measures of the
// pipeline (the last stage's bytes and busy time, the event loop's busy share); and from
// those, what limits it (classifyLimit).
//
// What holds: busy time only grows, counted from the session's start on the core's clock;
// the sequence span counts from the first DATA read, so a receiver that joined late is not
// charged for what was sent before it came.

import { type Heartbeat, Limit } from '../../protocol/messages/heartbeat.js';
import { seqDiff } from '../../protocol/seq.js';

/** What the driver measures of the pipeline and the process (ReceiverInput 'load'). */
/** What a HEARTBEAT carries that this meter measures (the rest comes from the session and the sink). */
export type HeartbeatFigures = Pick<
  Heartbeat,
  'elapsedMs' | 'sinkBusyMs' | 'packetsRead' | 'packetsSent' | 'cpuPermille' | 'outputBytes' | 'outputBusyMs' | 'limit'
>;

export interface PipelineLoad {
  /** Event-loop busy share since the driver's last report, 0..1000. */
  readonly cpuPermille: number;
  /** Bytes the last stage has written (disk, unpacked files, a --pipe command's stdin, stdout). */
  readonly outputBytes: number;
  /** ms the last stage has spent writing. */
  readonly outputBusyMs: number;
  /** A decompressor sits in front of the last stage. */
  readonly decompressing: boolean;
}

/** The share of an interval above which a stage counts as saturated. */
const SATURATED = 0.5;
/** Event-loop busy share above which the CPU is the limit. */
const CPU_SATURATED = 0.9;

/**
 * What held the receiver back over an interval, from the shares of it that the sink held
 * delivery back, that the last stage was writing and that the event loop was busy. A sink
 * that keeps up leaves the receiver waiting for data: the network (or the sender, or the
 * rest of the rack). A sink that does not is the disk when its last stage was busy for
 * most of that time, else the decompressor in front of it; a saturated event loop that
 * explains neither is the CPU.
 */
export function classifyLimit(x: {
  readonly sinkBusyShare: number;
  readonly outputBusyShare: number;
  readonly cpuShare: number;
  readonly decompressing: boolean;
}): Limit {
  if (x.sinkBusyShare >= SATURATED) {
    if (x.outputBusyShare >= SATURATED * x.sinkBusyShare) return Limit.Disk;
    if (x.decompressing) return Limit.Decompress;
    if (x.cpuShare >= CPU_SATURATED) return Limit.Cpu;
    return Limit.Disk;
  }
  return x.cpuShare >= CPU_SATURATED ? Limit.Cpu : Limit.Network;
}

export class LoadMeter {
  private busyMs = 0;
  private busySinceMs: number | undefined;
  private firstSeq: number | undefined;
  private newestSeq = 0;
  private read = 0;
  private pipeline: PipelineLoad = { cpuPermille: 0, outputBytes: 0, outputBusyMs: 0, decompressing: false };
  /** At the last heartbeat: to judge the limit over the interval since. */
  private mark: { atMs: number; busyMs: number; outputBusyMs: number };

  constructor(private readonly startedAtMs: number) {
    this.mark = { atMs: startedAtMs, busyMs: 0, outputBusyMs: 0 };
  }

  /** After every input: whether a delivered slice now waits for the sink. */
  sinkWaiting(waiting: boolean, now: number): void {
    if (waiting && this.busySinceMs === undefined) this.busySinceMs = now;
    if (!waiting && this.busySinceMs !== undefined) {
      this.busyMs += now - this.busySinceMs;
      this.busySinceMs = undefined;
    }
  }

  /** A DATA datagram of the session was read. */
  onData(seq: number): void {
    this.read = (this.read + 1) >>> 0;
    if (this.firstSeq === undefined) {
      this.firstSeq = seq;
      this.newestSeq = seq;
    } else if (seqDiff(seq, this.newestSeq) > 0) {
      this.newestSeq = seq;
    }
  }

  /** `count` DATA went by while we were out of the data group: not lost, so counted as read. */
  skipUnheard(count: number): void {
    this.read = (this.read + count) >>> 0;
  }

  setPipeline(p: PipelineLoad): void {
    this.pipeline = p;
  }

  /** The figures a HEARTBEAT carries at `now`, and the limit over the interval since the last call. */
  snapshot(now: number): HeartbeatFigures {
    const sinkBusyMs = this.busyMs + (this.busySinceMs === undefined ? 0 : now - this.busySinceMs);
    const p = this.pipeline;
    const dt = now - this.mark.atMs;
    const limit =
      dt <= 0
        ? Limit.Unknown
        : classifyLimit({
            sinkBusyShare: (sinkBusyMs - this.mark.busyMs) / dt,
            outputBusyShare: (p.outputBusyMs - this.mark.outputBusyMs) / dt,
            cpuShare: p.cpuPermille / 1000,
            decompressing: p.decompressing,
          });
    this.mark = { atMs: now, busyMs: sinkBusyMs, outputBusyMs: p.outputBusyMs };
    return {
      elapsedMs: Math.max(0, Math.round(now - this.startedAtMs)),
      sinkBusyMs: Math.round(sinkBusyMs),
      packetsRead: this.read,
      packetsSent: this.firstSeq === undefined ? 0 : (seqDiff(this.newestSeq, this.firstSeq) + 1) >>> 0,
      cpuPermille: Math.max(0, Math.min(1000, Math.round(p.cpuPermille))),
      outputBytes: p.outputBytes,
      outputBusyMs: Math.round(p.outputBusyMs),
      limit,
    };
  }
}
