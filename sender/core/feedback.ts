// What a known receiver sends the sender, once the core found the datagram well formed, of
// this session, and from the address that receiver joined from (the core checks all three
// and counts what fails): STATUS (progress, and answers to probe rounds), NAK (handed to
// nak-router.ts), REPORT and LEAVE (its outcome), HEARTBEAT (its health figures) and its
// clone agent's CLONE_REPORT. The sender acknowledges REPORT and CLONE_REPORT every time,
// repeats too: the receiver repeats them until it hears the acknowledgement.
//
// What holds: it keeps no state of its own; the participants, the probe rounds and the
// clone reports hold what these change, and the driver hears of each outcome once (the
// parts say when a report is the first).

import type { Endpoint } from '../../protocol/endpoint.js';
import type { CloneReport } from '../../protocol/messages/clone-report.js';
import type { Heartbeat } from '../../protocol/messages/heartbeat.js';
import type { Leave } from '../../protocol/messages/leave.js';
import type { Nak } from '../../protocol/messages/nak.js';
import type { Report } from '../../protocol/messages/report.js';
import type { Status } from '../../protocol/messages/status.js';
import type { CloneReports } from './clone-reports.js';
import type { Phase, SenderEvent } from './events.js';
import type { NakRouter } from './nak-router.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { ProbeRounds } from './probe.js';
import type { SliceStore } from './slices.js';
import type { SenderStats } from './stats.js';
import type { Transmitter } from './transmit.js';

export class Feedback {
  constructor(
    private readonly stats: SenderStats,
    private readonly participants: Participants,
    private readonly tx: Transmitter,
    private readonly slices: SliceStore,
    private readonly probe: ProbeRounds,
    private readonly naks: NakRouter,
    private readonly cloneReports: CloneReports,
    private readonly events: SenderEvent[],
  ) {}

  status(rcv: ReceiverRecord, st: Status, now: number): void {
    this.stats.statusReceived++;
    this.participants.status(rcv, st, this.tx.lastSeq, this.tx.sentCount, this.slices.nextSliceNo, now);
    this.slices.autoParity.status(rcv, this.participants.seenAbsOf(rcv) - rcv.joinAbs, st.lossPpm);
    if (st.reqackId !== 0 && rcv.state === 'active') this.probe.answer(rcv, st.reqackId, this.participants.seenAbsOf(rcv), now);
  }

  nak(rcv: ReceiverRecord, nak: Nak, phase: Phase, now: number): void {
    this.stats.naksReceived++;
    this.naks.answer(rcv, nak, phase, now);
  }

  report(rcv: ReceiverRecord, rep: Report, now: number): void {
    // Always acknowledge: the receiver repeats its REPORT until it hears this.
    this.tx.reportAck(rcv.id, rcv.endpoint);
    const r = this.participants.report(rcv, rep, this.slices.eof, now);
    if (r !== undefined) this.events.push({ kind: 'reported', receiverId: rcv.id, ok: r.ok, detail: r.detail });
  }

  leave(rcv: ReceiverRecord, leave: Leave, now: number): void {
    const detail = this.participants.leave(rcv, leave, now);
    if (detail !== undefined) this.events.push({ kind: 'left', receiverId: rcv.id, reason: leave.reason, detail });
  }

  cloneReport(rcv: ReceiverRecord, rep: CloneReport, from: Endpoint): void {
    // Always acknowledge, also a repeat: the agent repeats its report until it hears this.
    this.tx.cloneReportAck(rcv.id, from);
    if (this.cloneReports.take(rcv.id, rep)) this.events.push({ kind: 'clone-reported', receiverId: rcv.id, report: rep });
  }

  /** A receiver's health report: figures for the table, the slow-node policy and the rack's loss (automatic parity). */
  heartbeat(rcv: ReceiverRecord, hb: Heartbeat, now: number): void {
    this.stats.heartbeatsReceived++;
    this.participants.heartbeat(rcv, hb, this.slices.nextSliceNo, now);
    this.slices.autoParity.heartbeat(rcv, hb.packetsSent, hb.packetsRead);
  }
}
