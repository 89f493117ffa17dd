// REPORT_ACK — sender → one receiver (unicast, to the endpoint its JOIN came from).
// Confirms the receiver's final REPORT, so it can stop repeating it and exit.
//
// off size field
//   0    8 header          (type 11)
//   8    4 receiverId      u32, nonzero

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const REPORT_ACK_SIZE = 12;
const OFF_RECEIVER_ID = 8;

export interface ReportAck {
  readonly sessionId: number;
  readonly receiverId: number;
}

export function encodeReportAck(msg: ReportAck, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + REPORT_ACK_SIZE);
  encodeHeader(MessageType.ReportAck, msg.sessionId, b);
  view(b).setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  return REPORT_ACK_SIZE;
}

export function decodeReportAck(bytes: Uint8Array): Result<ReportAck> {
  const h = expectHeader(bytes, MessageType.ReportAck, REPORT_ACK_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== REPORT_ACK_SIZE) return err('ERR_BAD_LENGTH', 'REPORT_ACK');
  const receiverId = view(bytes).getUint32(OFF_RECEIVER_ID, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'REPORT_ACK receiverId');
  return ok({ sessionId: h.value.sessionId, receiverId });
}
