// CONNECT_REQ — receiver → sender (C:portbase+1 at first, then unicast to a HELLO's source).
// Sent once at start-up and again on every HELLO; never retried otherwise.
//
// off size field
//   0    2 opcode        3
//   2    2 reserved      0 (ignored)
//   4    4 capabilities  u32 (stock: 0x00000009)
//   8    4 rcvbufBytes   u32, the receiver's SO_RCVBUF before --rcvbuf (kernel default, e.g. 212992)

import { err, ok, type Result } from '../result.js';
import { OP_CONNECT_REQ, view } from './wire.js';

export const CONNECT_REQ_SIZE = 12;
const OFF_CAPABILITIES = 4;
const OFF_RCVBUF = 8;

export interface UdpcastConnectReq {
  readonly capabilities: number;
  readonly rcvbufBytes: number;
}

export function encodeConnectReq(msg: UdpcastConnectReq, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + CONNECT_REQ_SIZE);
  const v = view(b);
  v.setUint16(0, OP_CONNECT_REQ, false);
  v.setUint16(2, 0, false);
  v.setUint32(OFF_CAPABILITIES, msg.capabilities >>> 0, false);
  v.setUint32(OFF_RCVBUF, msg.rcvbufBytes >>> 0, false);
  return CONNECT_REQ_SIZE;
}

export function decodeConnectReq(bytes: Uint8Array): Result<UdpcastConnectReq> {
  if (bytes.byteLength < CONNECT_REQ_SIZE) return err('ERR_TRUNCATED', 'CONNECT_REQ');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_CONNECT_REQ) return err('ERR_BAD_TYPE', 'CONNECT_REQ');
  if (bytes.byteLength !== CONNECT_REQ_SIZE) return err('ERR_BAD_LENGTH', 'CONNECT_REQ');
  return ok({ capabilities: v.getUint32(OFF_CAPABILITIES, false), rcvbufBytes: v.getUint32(OFF_RCVBUF, false) });
}
