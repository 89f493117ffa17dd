// CONNECT_REPLY — sender → receiver ip:portbase, unicast, from the sender's bound port. The
// receiver remembers this datagram's (address, port): everything of the data phase must
// come from exactly there ("Rogue packet" otherwise).
//
// off size field
//   0    2 opcode        7
//   2    2 reserved      0
//   4    4 clNr          i32 participant index 0..1023; -1 = "Too many clients" (fatal for the receiver)
//   8    4 blockBytes    i32, authoritative
//  12    4 capabilities  u32 (stock: 0x00000009)
//  16    4 dataAddress   IPv4 data group (or the receiver's own address, point-to-point)
//  20   12 (address tail, uninitialized in stock senders; ignored, sent as 0)

import { err, ok, type Result } from '../result.js';
import { MAX_CLIENTS, OP_CONNECT_REPLY, readIpv4, view, writeIpv4 } from './wire.js';

export const CONNECT_REPLY_SIZE = 32;
const OFF_CL_NR = 4;
const OFF_BLOCK_BYTES = 8;
const OFF_CAPABILITIES = 12;
const OFF_DATA_ADDRESS = 16;
/** clNr of a refusal. */
export const CL_NR_REFUSED = -1;

export interface UdpcastConnectReply {
  readonly clNr: number;
  readonly blockBytes: number;
  readonly capabilities: number;
  readonly dataAddress: string;
}

export function encodeConnectReply(msg: UdpcastConnectReply, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + CONNECT_REPLY_SIZE);
  b.fill(0);
  const v = view(b);
  v.setUint16(0, OP_CONNECT_REPLY, false);
  v.setInt32(OFF_CL_NR, msg.clNr, false);
  v.setInt32(OFF_BLOCK_BYTES, msg.blockBytes, false);
  v.setUint32(OFF_CAPABILITIES, msg.capabilities >>> 0, false);
  writeIpv4(msg.dataAddress, b, OFF_DATA_ADDRESS);
  return CONNECT_REPLY_SIZE;
}

export function decodeConnectReply(bytes: Uint8Array): Result<UdpcastConnectReply> {
  if (bytes.byteLength < CONNECT_REPLY_SIZE) return err('ERR_TRUNCATED', 'CONNECT_REPLY');
  const v = view(bytes);
  if (v.getUint16(0, false) !== OP_CONNECT_REPLY) return err('ERR_BAD_TYPE', 'CONNECT_REPLY');
  if (bytes.byteLength !== CONNECT_REPLY_SIZE) return err('ERR_BAD_LENGTH', 'CONNECT_REPLY');
  const clNr = v.getInt32(OFF_CL_NR, false);
  if (clNr < CL_NR_REFUSED || clNr >= MAX_CLIENTS) return err('ERR_BAD_FIELD', `CONNECT_REPLY clNr ${clNr}`);
  const blockBytes = v.getInt32(OFF_BLOCK_BYTES, false);
  if (blockBytes <= 0) return err('ERR_BAD_FIELD', `CONNECT_REPLY blockBytes ${blockBytes}`);
  return ok({ clNr, blockBytes, capabilities: v.getUint32(OFF_CAPABILITIES, false), dataAddress: readIpv4(bytes, OFF_DATA_ADDRESS) });
}
