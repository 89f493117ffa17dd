// REPORT — receiver → the sender's control endpoint (unicast). The receiver's final
// word: verified, or failed and why. Repeated until the sender's REPORT_ACK.
//
// off size field
//   0    8 header          (type 10)
//   8    4 receiverId      u32, nonzero
//  12    1 outcome         u8 0 = verified, 1 = failed
//  13    1 reason          u8 Reason (None when verified)
//  14    2 detailBytes     u16 length of detail, 0..240
//  16    8 bytesWritten    u64 image bytes the sink took
//  24   32 digest          SHA-256 the receiver computed over what it wrote (zeros if none)
//  56    n detail          UTF-8 text, e.g. "ENOSPC: no space left on device"

import { encodeHeader, expectHeader, getU64, MessageType, setU64, view } from '../header.js';
import { MAX_REASON, Reason } from '../reasons.js';
import { err, ok, type Result } from '../result.js';
import { decodeDetail, detailBytes, MAX_DETAIL_BYTES } from '../text.js';
import { DIGEST_BYTES } from './end.js';

export const REPORT_HEADER_SIZE = 56;
const OFF_RECEIVER_ID = 8;
const OFF_OUTCOME = 12;
const OFF_REASON = 13;
const OFF_DETAIL_BYTES = 14;
const OFF_BYTES_WRITTEN = 16;
const OFF_DIGEST = 24;

export enum Outcome {
  Verified = 0,
  Failed = 1,
}

export interface Report {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly outcome: Outcome;
  readonly reason: Reason;
  readonly bytesWritten: number;
  readonly digest: Uint8Array;
  readonly detail: string;
}

export function reportLength(msg: Report): number {
  return REPORT_HEADER_SIZE + detailBytes(msg.detail).byteLength;
}

export function encodeReport(msg: Report, buf: Uint8Array, off = 0): number {
  if (msg.digest.byteLength !== DIGEST_BYTES) throw new RangeError('REPORT digest must be 32 bytes');
  const detail = detailBytes(msg.detail);
  const len = REPORT_HEADER_SIZE + detail.byteLength;
  const b = buf.subarray(off, off + len);
  encodeHeader(MessageType.Report, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_OUTCOME, msg.outcome);
  v.setUint8(OFF_REASON, msg.reason);
  v.setUint16(OFF_DETAIL_BYTES, detail.byteLength, false);
  setU64(v, OFF_BYTES_WRITTEN, msg.bytesWritten);
  b.set(msg.digest, OFF_DIGEST);
  b.set(detail, REPORT_HEADER_SIZE);
  return len;
}

export function decodeReport(bytes: Uint8Array): Result<Report> {
  const h = expectHeader(bytes, MessageType.Report, REPORT_HEADER_SIZE);
  if (!h.ok) return h;
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  const outcome = v.getUint8(OFF_OUTCOME);
  const reason = v.getUint8(OFF_REASON);
  const n = v.getUint16(OFF_DETAIL_BYTES, false);
  const bytesWritten = getU64(v, OFF_BYTES_WRITTEN);
  if (n > MAX_DETAIL_BYTES) return err('ERR_BAD_FIELD', 'REPORT detailBytes');
  if (bytes.byteLength < REPORT_HEADER_SIZE + n) return err('ERR_TRUNCATED', 'REPORT');
  if (bytes.byteLength !== REPORT_HEADER_SIZE + n) return err('ERR_BAD_LENGTH', 'REPORT');
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'REPORT receiverId');
  if (outcome > Outcome.Failed) return err('ERR_BAD_FIELD', 'REPORT outcome');
  if (reason > MAX_REASON) return err('ERR_BAD_FIELD', 'REPORT reason');
  if ((outcome === Outcome.Verified) !== (reason === Reason.None)) return err('ERR_BAD_FIELD', 'REPORT reason');
  if (bytesWritten < 0) return err('ERR_BAD_FIELD', 'REPORT bytesWritten');
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    outcome,
    reason,
    bytesWritten,
    digest: bytes.slice(OFF_DIGEST, OFF_DIGEST + DIGEST_BYTES),
    detail: decodeDetail(bytes.subarray(REPORT_HEADER_SIZE, REPORT_HEADER_SIZE + n)),
  });
}
