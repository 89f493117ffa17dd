// One entry point for every datagram (NORM's InitFromBuffer): the header is checked,
// then the message's own decoder range-checks every field. Never throws on wire input.

import { decodeHeader, MessageType } from './header.js';
import { type Accept, decodeAccept } from './messages/accept.js';
import { type CatchUp, decodeCatchUp } from './messages/catch-up.js';
import { type CloneReport, decodeCloneReport } from './messages/clone-report.js';
import { type CloneReportAck, decodeCloneReportAck } from './messages/clone-report-ack.js';
import { type Data, decodeData } from './messages/data.js';
import { type Drop, decodeDrop } from './messages/drop.js';
import { decodeEnd, type End } from './messages/end.js';
import { decodeHeartbeat, type Heartbeat } from './messages/heartbeat.js';
import { decodeHello, type Hello } from './messages/hello.js';
import { decodeJoin, type Join } from './messages/join.js';
import { decodeLeave, type Leave } from './messages/leave.js';
import { decodeNak, type Nak } from './messages/nak.js';
import { decodeReport, type Report } from './messages/report.js';
import { decodeReportAck, type ReportAck } from './messages/report-ack.js';
import { decodeReqack, type Reqack } from './messages/reqack.js';
import { decodeStart, type Start } from './messages/start.js';
import { decodeStatus, type Status } from './messages/status.js';
import { ok, type Result } from './result.js';

export type Message =
  | { readonly type: MessageType.Hello; readonly msg: Hello }
  | { readonly type: MessageType.Join; readonly msg: Join }
  | { readonly type: MessageType.Accept; readonly msg: Accept }
  | { readonly type: MessageType.Start; readonly msg: Start }
  | { readonly type: MessageType.Data; readonly msg: Data }
  | { readonly type: MessageType.Nak; readonly msg: Nak }
  | { readonly type: MessageType.Status; readonly msg: Status }
  | { readonly type: MessageType.Reqack; readonly msg: Reqack }
  | { readonly type: MessageType.End; readonly msg: End }
  | { readonly type: MessageType.Report; readonly msg: Report }
  | { readonly type: MessageType.ReportAck; readonly msg: ReportAck }
  | { readonly type: MessageType.Leave; readonly msg: Leave }
  | { readonly type: MessageType.Drop; readonly msg: Drop }
  | { readonly type: MessageType.CloneReport; readonly msg: CloneReport }
  | { readonly type: MessageType.CloneReportAck; readonly msg: CloneReportAck }
  | { readonly type: MessageType.Heartbeat; readonly msg: Heartbeat }
  | { readonly type: MessageType.CatchUp; readonly msg: CatchUp };

function tag<T extends Message['type'], M>(type: T, r: Result<M>): Result<Message> {
  return r.ok ? ok({ type, msg: r.value } as unknown as Message) : r;
}

export function decodeDatagram(bytes: Uint8Array): Result<Message> {
  const h = decodeHeader(bytes);
  if (!h.ok) return h;
  switch (h.value.type) {
    case MessageType.Hello:
      return tag(MessageType.Hello, decodeHello(bytes));
    case MessageType.Join:
      return tag(MessageType.Join, decodeJoin(bytes));
    case MessageType.Accept:
      return tag(MessageType.Accept, decodeAccept(bytes));
    case MessageType.Start:
      return tag(MessageType.Start, decodeStart(bytes));
    case MessageType.Data:
      return tag(MessageType.Data, decodeData(bytes));
    case MessageType.Nak:
      return tag(MessageType.Nak, decodeNak(bytes));
    case MessageType.Status:
      return tag(MessageType.Status, decodeStatus(bytes));
    case MessageType.Reqack:
      return tag(MessageType.Reqack, decodeReqack(bytes));
    case MessageType.End:
      return tag(MessageType.End, decodeEnd(bytes));
    case MessageType.Report:
      return tag(MessageType.Report, decodeReport(bytes));
    case MessageType.ReportAck:
      return tag(MessageType.ReportAck, decodeReportAck(bytes));
    case MessageType.Leave:
      return tag(MessageType.Leave, decodeLeave(bytes));
    case MessageType.Drop:
      return tag(MessageType.Drop, decodeDrop(bytes));
    case MessageType.CloneReport:
      return tag(MessageType.CloneReport, decodeCloneReport(bytes));
    case MessageType.CloneReportAck:
      return tag(MessageType.CloneReportAck, decodeCloneReportAck(bytes));
    case MessageType.Heartbeat:
      return tag(MessageType.Heartbeat, decodeHeartbeat(bytes));
    case MessageType.CatchUp:
      return tag(MessageType.CatchUp, decodeCatchUp(bytes));
  }
}
