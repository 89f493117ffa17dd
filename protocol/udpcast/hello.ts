// HELLO — sender → rendezvous address C:portbase. "A sender is up": receivers take the data
// address and block size from it and send CONNECT_REQ unicast to its source. Stock senders
// send opcode 0x0500 (HELLO, see wire.ts) or 11 (HELLO_STREAMING); receivers accept 10 too.
//
// off size field
//   0    2 opcode        0x0500 | 10 | 11
//   2    2 reserved      0
//   4    4 capabilities  u32 (stock: 0x00000009, with --async 0x29)
//   8    4 dataAddress   IPv4 data group (or the receiver's own address, point-to-point)
//  12   12 (address tail: room for IPv6, uninitialized in stock senders; ignored, sent as 0)
//  24    2 blockBytes    u16 (a CONNECT_REPLY's 32-bit value wins)
//  26    2 (padding, uninitialized; ignored, sent as 0)

import { err, ok, type Result } from '../result.js';
import { OP_HELLO, OP_HELLO_NEW, OP_HELLO_STREAMING, readIpv4, view, writeIpv4 } from './wire.js';

export const HELLO_SIZE = 28;
const OFF_CAPABILITIES = 4;
const OFF_DATA_ADDRESS = 8;
const OFF_BLOCK_BYTES = 24;

export type HelloOpcode = typeof OP_HELLO | typeof OP_HELLO_NEW | typeof OP_HELLO_STREAMING;

export interface UdpcastHello {
  readonly opcode: HelloOpcode;
  readonly capabilities: number;
  readonly dataAddress: string;
  readonly blockBytes: number;
}

export function isHelloOpcode(op: number): op is HelloOpcode {
  return op === OP_HELLO || op === OP_HELLO_NEW || op === OP_HELLO_STREAMING;
}

export function encodeHello(msg: UdpcastHello, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + HELLO_SIZE);
  b.fill(0);
  const v = view(b);
  v.setUint16(0, msg.opcode, false);
  v.setUint32(OFF_CAPABILITIES, msg.capabilities >>> 0, false);
  writeIpv4(msg.dataAddress, b, OFF_DATA_ADDRESS);
  v.setUint16(OFF_BLOCK_BYTES, msg.blockBytes, false);
  return HELLO_SIZE;
}

export function decodeHello(bytes: Uint8Array): Result<UdpcastHello> {
  if (bytes.byteLength < HELLO_SIZE) return err('ERR_TRUNCATED', 'HELLO');
  const v = view(bytes);
  const opcode = v.getUint16(0, false);
  if (!isHelloOpcode(opcode)) return err('ERR_BAD_TYPE', 'HELLO');
  if (bytes.byteLength !== HELLO_SIZE) return err('ERR_BAD_LENGTH', 'HELLO');
  const blockBytes = v.getUint16(OFF_BLOCK_BYTES, false);
  if (blockBytes === 0) return err('ERR_BAD_FIELD', 'HELLO blockBytes 0');
  return ok({ opcode, capabilities: v.getUint32(OFF_CAPABILITIES, false), dataAddress: readIpv4(bytes, OFF_DATA_ADDRESS), blockBytes });
}
