// GO — receiver → sender portbase+1: a key was pressed on a receiver: start the transfer now (before the start only).
//
// off size field
//   0    2 opcode    2
//   2    2 reserved  0 (ignored)

import { err, ok, type Result } from '../result.js';
import { OP_GO, view } from './wire.js';

export const GO_SIZE = 4;

export type UdpcastGo = Record<string, never>;

export function encodeGo(_msg: UdpcastGo, buf: Uint8Array, off = 0): number {
  const v = view(buf.subarray(off, off + GO_SIZE));
  v.setUint16(0, OP_GO, false);
  v.setUint16(2, 0, false);
  return GO_SIZE;
}

export function decodeGo(bytes: Uint8Array): Result<UdpcastGo> {
  if (bytes.byteLength < GO_SIZE) return err('ERR_TRUNCATED', 'GO');
  if (view(bytes).getUint16(0, false) !== OP_GO) return err('ERR_BAD_TYPE', 'GO');
  if (bytes.byteLength !== GO_SIZE) return err('ERR_BAD_LENGTH', 'GO');
  return ok({});
}
