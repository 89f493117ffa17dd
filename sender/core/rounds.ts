// The rounds: when the sender asks its receivers how far they are, and what it does with
// the answers and the silences.
//
// Feedback (docs/ARCHITECTURE.md, "How feedback scales"): with at most
// maxReportingReceivers at START every receiver reports its progress as it goes, and a
// REQACK goes out only while the window is full. With more, the session is quiet: the
// receivers keep silent unless a probe round (probe.ts, a REQACK with thresholds, every
// quarter window of DATA and at once when the window shuts) finds them behind, and send a
// STATUS heartbeat; the sender counts a round's silence as progress. Either way the work
// per DATA and per datagram received is O(1) or O(log receivers); only the REQACK/END
// rounds (tens of milliseconds apart) walk every receiver.
//
// A REQACK round runs reqackIntervalMs after DATA began to wait for the receivers
// (flow.ts: blocked), and again every reqackIntervalMs while it still waits; an END round
// every endIntervalMs once the first pass is over. In each, a receiver that holds things
// back and made no progress since the last round gets a retry counted (participants.ts);
// past the limit it is dropped, so one dead or stuck node cannot hold the rack (udpcast's
// --retries-until-drop). A REQACK round also runs the slow-node policy (slow-policy.ts).
// With --async nobody answers: END goes out ASYNC_END_COPIES times and the sender is done.
//
// What holds: Timer.Round is armed only while transferring (once DATA waits) or ending;
// blockedSinceMs is taken only while transferring and blocked, and cleared by the next check
// that finds DATA not waiting. The core owns the phases: it tells these methods the phase,
// and finishes when round() says so.

import { Reason } from '../../protocol/reasons.js';
import type { SenderConfig } from './config.js';
import type { Drops } from './drops.js';
import type { Phase } from './events.js';
import type { FlowWindow } from './flow.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { ProbeRounds } from './probe.js';
import type { SliceStore } from './slices.js';
import type { CatchUpPass } from './slow-policy.js';
import type { SenderStats } from './stats.js';
import { Timer, type TimerTable } from './timers.js';
import type { Transmitter } from './transmit.js';

/** --async: END copies sent (endIntervalMs apart) before the sender is done. */
const ASYNC_END_COPIES = 5;
/**
 * A quiet session sends END this many times when the first pass is over: its receivers do
 * not answer END (a STATUS from each would be N datagrams a round), so a copy costs one
 * datagram, and a receiver that lost END would wait a whole endIntervalMs for the next.
 */
const QUIET_END_COPIES = 3;

type RoundsConfig = Pick<SenderConfig, 'async' | 'reqackIntervalMs' | 'endIntervalMs' | 'retainSlices' | 'retriesUntilDrop'>;

export class Rounds {
  /** Transferring: since when DATA waits for the receivers (a REQACK round is due). */
  private blockedSinceMs: number | undefined;
  /** ENDs sent before 'ending' (one between the passes of a carousel): --async counts its copies after. */
  private endsBeforeEnding = 0;

  constructor(
    private readonly cfg: Readonly<RoundsConfig>,
    private readonly stats: SenderStats,
    private readonly timers: TimerTable,
    private readonly tx: Transmitter,
    private readonly participants: Participants,
    private readonly flow: FlowWindow,
    private readonly slices: SliceStore,
    private readonly probe: ProbeRounds,
    private readonly catchUp: CatchUpPass,
    private readonly drops: Drops,
  ) {}

  /**
   * START with more than maxReportingReceivers: a quiet session. The first round tells the
   * receivers so (and the heartbeat); it asks nothing (nobody is behind slice 0), so it
   * costs one datagram and no answer.
   */
  goQuiet(now: number, receivers: number): void {
    this.participants.goQuiet(now);
    this.probe.begin(now, 0, 0, receivers);
  }

  /** Whether DATA waits for the receivers now (transferring and blocked): the first time, a REQACK round is due. */
  noteBlocked(now: number, blocked: boolean): void {
    if (!blocked) {
      this.blockedSinceMs = undefined;
    } else if (this.blockedSinceMs === undefined) {
      this.blockedSinceMs = now;
      this.stats.windowStalls++;
      this.scheduleRound(now + this.cfg.reqackIntervalMs);
    }
  }

  /** A DATA datagram went out: a quiet session probes every quarter window of it. */
  dataSent(now: number): void {
    if (this.participants.quiet && this.probe.dataSent(this.probeEveryPackets())) this.beginProbe(now);
  }

  /** A quiet session's turn: silence that went stale, the probe round's copies and end. */
  tickProbe(now: number, phase: Phase): void {
    if (phase !== 'transferring' && phase !== 'ending') return;
    this.participants.expireSilent(now, this.probe.liveMs);
    if (this.probe.tick(now)) this.flow.freeDelivered();
    // DATA (or a repair) waits for the window: ask now rather than at the next round.
    if (!this.probe.inProgress && this.flow.dataReady() && !this.flow.open(phase === 'ending')) this.beginProbe(now);
  }

  /** The first pass is over and the digest known: END goes out now, and END rounds follow. */
  beginEnding(now: number): void {
    this.endsBeforeEnding = this.stats.ends;
    const copies = this.participants.quiet ? QUIET_END_COPIES : 1;
    for (let i = 0; i < copies; i++) this.sendEnd();
    this.timers.set(Timer.Round, now + this.cfg.endIntervalMs);
  }

  sendEnd(): void {
    const end = this.slices.eof;
    if (end !== undefined) this.tx.end(end);
  }

  /**
   * Timer.Round is due: one REQACK (transferring, window full) or END (ending) round.
   * True when the sender is done (--async, every END copy sent): the core finishes.
   */
  round(now: number, phase: Phase): boolean {
    this.timers.stop(Timer.Round);
    if (phase === 'ending' && this.cfg.async) {
      // Nobody answers: END goes out ASYNC_END_COPIES times, then the sender is done.
      if (this.stats.ends - this.endsBeforeEnding >= ASYNC_END_COPIES) return true;
      this.sendEnd();
      this.timers.set(Timer.Round, now + this.cfg.endIntervalMs);
      return false;
    }
    const quiet = this.participants.quiet;
    if (phase === 'ending') {
      for (const rcv of this.participants.endRound(this.probe.lastEnded, now, this.probe.liveMs)) this.dropNoAnswer(rcv, now);
      this.flow.grantShutRepairs();
      this.sendEnd();
      // Quiet: END is not answered; a probe round finds who still misses slices.
      if (quiet) this.beginProbe(now, true);
      this.timers.set(Timer.Round, now + this.cfg.endIntervalMs);
      return false;
    }
    if (phase !== 'transferring' || this.blockedSinceMs === undefined || !this.flow.blocked()) return false;
    this.flow.grantShutRepairs();
    const needSlices = this.slices.baseSlice + 1;
    const { over, behind } = this.participants.reqackRound(this.tx.sentCount, needSlices, this.probe.lastEnded);
    for (const rcv of over) this.dropNoAnswer(rcv, now);
    this.catchUp.round(behind, now);
    // Quiet: the probe rounds ask (tickProbe starts one as soon as the window shuts).
    if (!quiet) this.tx.reqack(needSlices, this.tx.lastSeq, this.participants.activeCount());
    else this.beginProbe(now);
    this.timers.set(Timer.Round, now + this.cfg.reqackIntervalMs);
    return false;
  }

  /** A round every quarter window of DATA: the credit must grow as fast as the data goes. */
  private probeEveryPackets(): number {
    return Math.max(1, Math.floor(this.flow.windowPackets / 4));
  }

  /**
   * A probe round asking what the sender needs to keep going: receivers that have not read
   * what went out an eighth of a window ago, or hold fewer slices than the first pass less a
   * quarter of the retention (`endRound`: fewer than all), answer. An eighth: a round's
   * credit is the lesser of its thresholds and those of the round before (a quarter window
   * earlier), so the window stays open three eighths past the credit, more than a round
   * takes to end; and a receiver keeping up lags by what is in flight, far less. Only the
   * END round (every endIntervalMs) asks for all slices: when END goes out, a thousand
   * receivers are still repairing their last slices, and a round asking for all of them
   * then would be answered by hundreds at once; endIntervalMs later, only the stuck answer.
   */
  private beginProbe(now: number, endRound = false): void {
    if (this.probe.inProgress) return;
    const needAbs = this.tx.sentCount - Math.floor(this.flow.windowPackets / 8);
    const end = this.slices.eof;
    const needSlices = endRound && end !== undefined ? end.totalSlices : this.slices.sendSliceNo - Math.max(1, Math.floor(this.cfg.retainSlices / 4));
    this.probe.begin(now, needAbs, needSlices, this.participants.activeCount());
  }

  private scheduleRound(at: number): void {
    const t = this.timers.get(Timer.Round);
    if (t === undefined || at < t) this.timers.set(Timer.Round, at);
  }

  /** Past the retry limit in a round (udpcast's --retries-until-drop). */
  private dropNoAnswer(rcv: ReceiverRecord, now: number): void {
    this.drops.drop(rcv, Reason.NoAnswer, `no answer after ${this.cfg.retriesUntilDrop} retries`, now);
  }
}
