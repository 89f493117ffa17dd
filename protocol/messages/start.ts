// START — sender → rendezvous group. The transfer begins; joins after this are refused.
// Sent three times (it carries the flow-control window the receivers pace their STATUS by).
//
// off size field
//   0    8 header          (type 4)
//   8    2 receivers       u16 receivers accepted into the session
//  10    2 windowPackets   u16 DATA packets the sender keeps in flight, >= 1; receivers send
//                          a STATUS each quarter window

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const START_SIZE = 12;
const OFF_RECEIVERS = 8;
const OFF_WINDOW = 10;

export interface Start {
  readonly sessionId: number;
  readonly receivers: number;
  readonly windowPackets: number;
}

export function encodeStart(msg: Start, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + START_SIZE);
  encodeHeader(MessageType.Start, msg.sessionId, b);
  const v = view(b);
  v.setUint16(OFF_RECEIVERS, msg.receivers, false);
  v.setUint16(OFF_WINDOW, msg.windowPackets, false);
  return START_SIZE;
}

export function decodeStart(bytes: Uint8Array): Result<Start> {
  const h = expectHeader(bytes, MessageType.Start, START_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== START_SIZE) return err('ERR_BAD_LENGTH', 'START');
  const v = view(bytes);
  const windowPackets = v.getUint16(OFF_WINDOW, false);
  if (windowPackets === 0) return err('ERR_BAD_FIELD', 'START windowPackets');
  return ok({ sessionId: h.value.sessionId, receivers: v.getUint16(OFF_RECEIVERS, false), windowPackets });
}
