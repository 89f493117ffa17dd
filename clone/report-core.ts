// The clone agent's side of CLONE_REPORT, sans-IO (the cores' model: fed datagrams and the
// clock, it says what to send and when to wake; clone/report.ts owns the socket).
//
// The report goes to the rendezvous group, as the receiver's REPORT does (the sender's
// control socket is bound to the group address, so a unicast to the sender would not reach
// it), and is sent again after 250 ms, 500 ms, 1 s, 2 s, then every 4 s, until the sender's
// CLONE_REPORT_ACK for this receiver id, or until giveUpMs after the first send: then the
// clone goes on to its end action unconfirmed (the sender may be gone; the clone is done).
//
// What holds: an ack counts only from the address the session's HELLO came from, with the
// session id and this receiver id; everything else is dropped and counted by code. Once
// acked or given up, nothing more is sent and pollTimeout() is undefined.

import { decodeDatagram } from '../protocol/codec.js';
import { MessageType } from '../protocol/header.js';
import { type CloneReport, cloneReportLength, encodeCloneReport } from '../protocol/messages/clone-report.js';

export const FIRST_RESEND_MS = 250;
export const MAX_RESEND_MS = 4000;
export const DEFAULT_GIVE_UP_MS = 20_000;

export interface ReporterConfig {
  readonly report: CloneReport;
  /** The address the session's HELLO came from: acks from anywhere else are not the sender's. */
  readonly senderAddress: string;
  readonly giveUpMs: number;
}

export type ReporterOutcome = 'acked' | 'unconfirmed';

export class CloneReporter {
  readonly stats = { sends: 0, acks: 0, drops: {} as Record<string, number> };
  private readonly bytes: Uint8Array;
  /** When the next copy is due, and the gap after it (doubling up to MAX_RESEND_MS). */
  private nextSendMs: number;
  private intervalMs = Math.min(2 * FIRST_RESEND_MS, MAX_RESEND_MS);
  private readonly giveUpAtMs: number;
  private due = true;
  private outcome: ReporterOutcome | undefined;

  constructor(
    private readonly cfg: Readonly<ReporterConfig>,
    now: number,
  ) {
    this.bytes = new Uint8Array(cloneReportLength(cfg.report));
    encodeCloneReport(cfg.report, this.bytes);
    // The first copy goes at once (due), the next FIRST_RESEND_MS later.
    this.nextSendMs = now + FIRST_RESEND_MS;
    this.giveUpAtMs = now + cfg.giveUpMs;
  }

  /** Undefined while the report is being repeated. */
  get result(): ReporterOutcome | undefined {
    return this.outcome;
  }

  handle(from: string, bytes: Uint8Array, now: number): void {
    if (this.outcome !== undefined) return;
    const r = decodeDatagram(bytes);
    if (!r.ok) return this.drop(r.code);
    const m = r.value;
    // The group carries everything of the session (and of others): only our ack matters.
    if (m.type !== MessageType.CloneReportAck) return;
    if (m.msg.sessionId !== this.cfg.report.sessionId) return this.drop('ERR_WRONG_SESSION');
    if (from !== this.cfg.senderAddress) return this.drop('ERR_WRONG_SENDER');
    if (m.msg.receiverId !== this.cfg.report.receiverId) return;
    this.stats.acks++;
    this.outcome = 'acked';
    this.handleTimeout(now);
  }

  handleTimeout(now: number): void {
    if (this.outcome !== undefined) return;
    if (now >= this.giveUpAtMs) {
      this.outcome = 'unconfirmed';
      return;
    }
    if (now >= this.nextSendMs) {
      this.due = true;
      this.nextSendMs = now + this.intervalMs;
      this.intervalMs = Math.min(this.intervalMs * 2, MAX_RESEND_MS);
    }
  }

  /** The report, when a copy is due. */
  pollTransmit(): Uint8Array | undefined {
    if (!this.due || this.outcome !== undefined) return undefined;
    this.due = false;
    this.stats.sends++;
    return this.bytes;
  }

  pollTimeout(): number | undefined {
    if (this.outcome !== undefined) return undefined;
    return Math.min(this.nextSendMs, this.giveUpAtMs);
  }

  private drop(code: string): void {
    this.stats.drops[code] = (this.stats.drops[code] ?? 0) + 1;
  }
}
