// The receiver core's phases and what each carries (receiver/core.ts says what holds in
// each and moves between them): the parts a session is made of, and how the receiver ends.

import type { Reason } from '../../protocol/reasons.js';
import type { Assembly } from './assembly.js';
import type { DataWatch } from './data-watch.js';
import type { Feedback } from './feedback.js';
import type { LoadMeter } from './load.js';
import type { NakScheduler } from './nak-scheduler.js';
import type { Passes } from './passes.js';
import type { Session } from './session.js';

/** The parts that exist once the first HELLO made a session; every phase after listening holds them. */
export interface InSession {
  readonly session: Session;
  readonly assembly: Assembly;
  readonly naks: NakScheduler;
  readonly feedback: Feedback;
  readonly load: LoadMeter;
  readonly passes: Passes;
  readonly watch: DataWatch;
}

/** How the receiver ends (in 'reporting': will end, once the sender has our REPORT). */
export type Verdict = { readonly ok: boolean; readonly reason: Reason; readonly detail: string };

export type Phase =
  /** No session: only a HELLO is heard, and only --start-timeout runs. */
  | { readonly name: 'listening' }
  /** Our JOIN is unanswered (feedback.accepted is false); nothing has begun. */
  | { readonly name: 'joining'; readonly rx: InSession }
  /** ACCEPT in hand; START or the first DATA, REQACK or END begins the transfer. */
  | { readonly name: 'accepted'; readonly rx: InSession }
  /**
   * The data flows. JOIN still repeats while the ACCEPT has not come (the sender may have
   * counted us and lost it). The only phase where NAK timers run and slices are delivered.
   */
  | { readonly name: 'receiving'; readonly rx: InSession }
  /** Every slice of every pass is delivered (session.end is known); waiting for 'verified'. */
  | { readonly name: 'verifying'; readonly rx: InSession }
  /** Never with --async. REPORT repeats every reportIntervalMs, at most reportTries times. */
  | {
      readonly name: 'reporting';
      readonly rx: InSession;
      readonly verdict: Verdict;
      readonly report: Uint8Array;
      reportsLeft: number;
      nextReportAtMs: number;
    }
  /** Finished; rx is there when a HELLO made a session (progress reads it). */
  | { readonly name: 'done'; readonly rx: InSession | undefined; readonly verdict: Verdict };

export type State = Phase['name'];
/** The phases whose clock is the session's: the sender's silence, JOIN, STATUS and NAKs. */
export type SessionPhase = Extract<Phase, { name: 'joining' | 'accepted' | 'receiving' | 'verifying' }>;
export type ReportingPhase = Extract<Phase, { name: 'reporting' }>;
