// Probe rounds: how a quiet session learns how far its receivers are without hearing from
// each of them. With many receivers (more than maxReportingReceivers at START) the
// receivers stop reporting as they go, and the sender asks instead (docs/ARCHITECTURE.md,
// "How feedback scales"):
//
//   A round is a REQACK with REQACK_FLAG_QUIET and thresholds: "answer if you have read
//   less than needSeq, or hold fewer than needSlices slices". A receiver behind answers
//   with a STATUS naming the REQACK, after a random wait in [0, answerWindowMs), the
//   further behind the sooner. The round sends its REQACK again answerWindowMs/4 later (a
//   lost copy then costs nothing) and once more at answerWindowMs/2 if an answer came in
//   worse than the thresholds: each copy carries the worst answer heard so far as its
//   thresholds, so receivers not worse than that, still waiting, stay silent. A receiver
//   cannot hear another's STATUS; the sender tells them instead.
//
//   The round ends 1.5 answerWindowMs + 1 ms after it began. Every receiver that could hear
//   it and did not answer is then at least at its final thresholds; so is every receiver
//   that answered (the thresholds fell to the worst answer). Because a receiver may lose
//   every copy of one round, the group credit a round's end gives is the lesser of its
//   thresholds and those of the round before: a receiver behind is taken for "not behind"
//   only if it missed two rounds in a row. sender/core/least-progress.ts
//   applies the credit to the receivers that have been there for both rounds and have
//   been heard (a STATUS heartbeat at least every heartbeatMs) recently enough.
//
// Rounds begin every probeEveryPackets DATA while data flows (a quarter of the flow window)
// and at once when the window is shut; the core decides the thresholds. This file holds a
// round's state and says when it ends; it sends through the Transmitter and credits
// through Participants.
//
// What holds: at most one round is in progress; its thresholds only fall; round numbers
// and REQACK ids only grow; a round's REQACK ids are [firstId, lastId].

import { groupIntervalMs } from '../../common/feedback-interval.js';
import type { SenderConfig } from './config.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { Transmitter } from './transmit.js';

/** A receiver silent for this many heartbeats (and two answer windows) no longer counts as heard. */
const HEARTBEATS_TO_STALE = 3;
/** The answer lag falls this fraction of the way to a shorter delay (at once to a longer one). */
const LAG_DECAY = 16;
/** Copies of a round's REQACK after the first (answerWindowMs/4 and /2 after it). */
const FOLLOW_UPS = 2;

type ProbeConfig = Pick<SenderConfig, 'answerWindowMs' | 'heartbeatMs' | 'maxReportingReceivers'>;

interface Round {
  readonly no: number;
  readonly firstId: number;
  lastId: number;
  readonly startedAtMs: number;
  readonly endsAtMs: number;
  followUps: number;
  /** Thresholds now (lowered by the worst answers), and as last sent. */
  needAbs: number;
  needSlices: number;
  sentAbs: number;
  sentSlices: number;
}

/** Converts a count of DATA sent to the seq that DATA carried (seq skips 0 when it wraps). */
export type SeqOfCount = (abs: number) => number;

export class ProbeRounds {
  private current: Round | undefined;
  private last: { no: number; firstId: number; lastId: number; needAbs: number; needSlices: number; startedAtMs: number } | undefined;
  /**
   * How long after its round began an answer has come, lately: the largest, falling
   * 1/LAG_DECAY of the way to each smaller one. A round lasts at least this (and 1 ms): an
   * answer that comes after its round ended cannot lower the credit that round gave, and
   * a receiver that answered two rounds late is credited what it does not hold. On a
   * loaded machine (33 Node processes on two cores) answers came 20-80 ms after the
   * REQACK, where a round of the CLI's 4 ms answer window lasts 7; a receiver still
   * repairing its last slices was credited every slice by the END rounds, its slices
   * freed, and it was dropped.
   */
  private answerLagMs = 0;
  /** A late answer (to the round that ended) with less than the round in progress asks for: the next round starts at most there. */
  private lateAbs = Infinity;
  private lateSlices = Infinity;
  private roundNo = 0;
  private packetsSince = 0;
  private groupSize = 0;

  constructor(
    private readonly cfg: Readonly<ProbeConfig>,
    private readonly participants: Participants,
    private readonly tx: Transmitter,
    private readonly seqOf: SeqOfCount,
  ) {}

  get inProgress(): boolean {
    return this.current !== undefined;
  }

  /** The number of the last round that ended (0: none yet). */
  get lastEnded(): number {
    return this.last?.no ?? 0;
  }

  /**
   * How often a receiver of this group must send a STATUS anyway: the configured
   * heartbeatMs, stretched with the group (common/feedback-interval.ts) so the heartbeats
   * the sender hears a second stay about flat. It is meant for the largest group that
   * still reports as it goes (maxReportingReceivers): a quiet session is larger. Between
   * heartbeats a credited receiver's record ages, and the retention base can rest on the
   * group credit rather than on the receiver that is really slowest; stretched from 4
   * receivers on, the slow-node policy's "behind in every round" broke that often enough
   * that a slow disk among 12 was never moved (test/sim/slow-node.test.ts).
   */
  get heartbeatMs(): number {
    return groupIntervalMs(this.cfg.heartbeatMs, this.groupSize, Math.max(1, this.cfg.maxReportingReceivers));
  }

  /** Silent this long: not heard (gone, frozen or cut off), so no longer credited. */
  get liveMs(): number {
    return HEARTBEATS_TO_STALE * this.heartbeatMs + 2 * this.cfg.answerWindowMs;
  }

  /** When the round in progress next needs the clock (a copy due, or its end); undefined: none. */
  nextTimeoutMs(): number | undefined {
    const r = this.current;
    if (r === undefined) return undefined;
    return r.followUps < FOLLOW_UPS ? Math.min(this.followUpAt(r), r.endsAtMs) : r.endsAtMs;
  }

  /** A DATA datagram went out; true when a round is due (probeEveryPackets since the last one began). */
  dataSent(probeEveryPackets: number): boolean {
    return ++this.packetsSince >= probeEveryPackets && this.current === undefined;
  }

  /**
   * Begins a round: receivers that have read less than the count `needAbs` of DATA, or
   * hold fewer than `needSlices` slices, answer. Does nothing while one is in progress.
   */
  begin(now: number, needAbs: number, needSlices: number, groupSize: number): void {
    if (this.current !== undefined) return;
    this.groupSize = groupSize;
    this.packetsSince = 0;
    const no = ++this.roundNo;
    this.participants.roundSent(no);
    // A late answer to the round before says someone is behind what that round credited.
    const abs = Math.min(needAbs, this.lateAbs);
    const slices = Math.min(needSlices, this.lateSlices);
    this.lateAbs = Infinity;
    this.lateSlices = Infinity;
    const id = this.send(abs, slices);
    this.current = {
      no,
      firstId: id,
      lastId: id,
      startedAtMs: now,
      endsAtMs: now + Math.max(1.5 * this.cfg.answerWindowMs, this.answerLagMs) + 1,
      followUps: 0,
      needAbs: abs,
      needSlices: slices,
      sentAbs: abs,
      sentSlices: slices,
    };
  }

  /**
   * A STATUS that names REQACK `reqackId` (the participants took its progress already): an
   * answer to the round in progress or the last one marks the receiver as behind in it,
   * and an answer worse than the thresholds lowers them.
   */
  answer(rcv: ReceiverRecord, reqackId: number, seenAbs: number, now: number): void {
    const r = this.current;
    if (r !== undefined && reqackId >= r.firstId && reqackId <= r.lastId) {
      rcv.answeredRound = r.no;
      this.answerCameAfter(now - r.startedAtMs);
      if (seenAbs < r.needAbs) r.needAbs = seenAbs;
      if (rcv.deliveredSlices < r.needSlices) r.needSlices = rcv.deliveredSlices;
    } else if (this.last !== undefined && reqackId >= this.last.firstId && reqackId <= this.last.lastId) {
      rcv.answeredRound = Math.max(rcv.answeredRound, this.last.no);
      this.answerCameAfter(now - this.last.startedAtMs);
      // Too late for the credit its round gave; the round in progress (or the next) must not give it again.
      const next = this.current;
      if (next !== undefined) {
        if (seenAbs < next.needAbs) next.needAbs = seenAbs;
        if (rcv.deliveredSlices < next.needSlices) next.needSlices = rcv.deliveredSlices;
      } else {
        this.lateAbs = Math.min(this.lateAbs, seenAbs);
        this.lateSlices = Math.min(this.lateSlices, rcv.deliveredSlices);
      }
    }
  }

  private answerCameAfter(delayMs: number): void {
    this.answerLagMs = delayMs >= this.answerLagMs ? delayMs : this.answerLagMs + (delayMs - this.answerLagMs) / LAG_DECAY;
  }

  /** Sends what is due and ends the round when its time is up; true when one ended (credit may have grown). */
  tick(now: number): boolean {
    const r = this.current;
    if (r === undefined) return false;
    if (r.followUps < FOLLOW_UPS && now >= this.followUpAt(r) && now < r.endsAtMs) {
      // The first copy always goes (a lost REQACK must not pass for silence); the second
      // only if an answer lowered the thresholds since.
      if (r.followUps === 0 || r.needAbs < r.sentAbs || r.needSlices < r.sentSlices) {
        r.lastId = this.send(r.needAbs, r.needSlices);
        r.sentAbs = r.needAbs;
        r.sentSlices = r.needSlices;
      }
      r.followUps++;
    }
    if (now < r.endsAtMs) return false;
    const prev = this.last;
    this.current = undefined;
    this.last = { no: r.no, firstId: r.firstId, lastId: r.lastId, needAbs: r.needAbs, needSlices: r.needSlices, startedAtMs: r.startedAtMs };
    // A receiver that lost every copy of this round heard the one before.
    const creditAbs = prev === undefined ? -Infinity : Math.min(prev.needAbs, r.needAbs);
    const creditSlices = prev === undefined ? -Infinity : Math.min(prev.needSlices, r.needSlices);
    this.participants.credit(r.no, creditAbs, creditSlices);
    return true;
  }

  private followUpAt(r: Round): number {
    return r.startedAtMs + ((r.followUps + 1) * this.cfg.answerWindowMs) / 4;
  }

  private send(needAbs: number, needSlices: number): number {
    return this.tx.reqack(Math.max(0, needSlices), needAbs <= 0 ? 0 : this.seqOf(needAbs), this.groupSize, {
      answerWindowMs: this.cfg.answerWindowMs,
      heartbeatMs: this.heartbeatMs,
    });
  }
}
