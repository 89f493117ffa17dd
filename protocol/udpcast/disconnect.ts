// DISCONNECT — receiver → sender portbase+1: the receiver leaves. Stock receivers send it at the end, after their writer drained and fsync()ed, and also from their atexit() path on a fatal error: it does not mean success.
//
// off size field
//   0    2 opcode    4
//   2    2 reserved  0 (ignored)

import { err, ok, type Result } from '../result.js';
import { OP_DISCONNECT, view } from './wire.js';

export const DISCONNECT_SIZE = 4;

export type UdpcastDisconnect = Record<string, never>;

export function encodeDisconnect(_msg: UdpcastDisconnect, buf: Uint8Array, off = 0): number {
  const v = view(buf.subarray(off, off + DISCONNECT_SIZE));
  v.setUint16(0, OP_DISCONNECT, false);
  v.setUint16(2, 0, false);
  return DISCONNECT_SIZE;
}

export function decodeDisconnect(bytes: Uint8Array): Result<UdpcastDisconnect> {
  if (bytes.byteLength < DISCONNECT_SIZE) return err('ERR_TRUNCATED', 'DISCONNECT');
  if (view(bytes).getUint16(0, false) !== OP_DISCONNECT) return err('ERR_BAD_TYPE', 'DISCONNECT');
  if (bytes.byteLength !== DISCONNECT_SIZE) return err('ERR_BAD_LENGTH', 'DISCONNECT');
  return ok({});
}
