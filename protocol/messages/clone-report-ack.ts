// CLONE_REPORT_ACK — sender → rendezvous group. Confirms a clone agent's CLONE_REPORT, so
// the agent stops repeating it and goes on to its end action (reboot, power off, shell).
// Its own type rather than REPORT_ACK: the agent listens for it after its transfer ended,
// when a late copy of the REPORT_ACK for that transfer may still arrive, and that copy
// must not pass for a confirmation of the clone.
//
// off size field
//   0    8 header          (type 15)
//   8    4 receiverId      u32, nonzero: the receiverId of the CLONE_REPORT

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const CLONE_REPORT_ACK_SIZE = 12;
const OFF_RECEIVER_ID = 8;

export interface CloneReportAck {
  readonly sessionId: number;
  readonly receiverId: number;
}

export function encodeCloneReportAck(msg: CloneReportAck, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + CLONE_REPORT_ACK_SIZE);
  encodeHeader(MessageType.CloneReportAck, msg.sessionId, b);
  view(b).setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  return CLONE_REPORT_ACK_SIZE;
}

export function decodeCloneReportAck(bytes: Uint8Array): Result<CloneReportAck> {
  const h = expectHeader(bytes, MessageType.CloneReportAck, CLONE_REPORT_ACK_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== CLONE_REPORT_ACK_SIZE) return err('ERR_BAD_LENGTH', 'CLONE_REPORT_ACK');
  const receiverId = view(bytes).getUint32(OFF_RECEIVER_ID, false);
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'CLONE_REPORT_ACK receiverId');
  return ok({ sessionId: h.value.sessionId, receiverId });
}
