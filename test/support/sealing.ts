// Keys and datagrams for the tests of sealing (common/auth/seal.ts), in process and over real
// sockets.

import { type AuthKeys, deriveAuthKeys } from '../../common/auth/keys.js';
import type { AuthMode } from '../../common/auth/seal.js';
import { DATA_HEADER_SIZE, encodeDataHeader } from '../../protocol/messages/data.js';
import { mulberry32 } from './prng.js';

export const MODES: readonly AuthMode[] = ['mac', 'encrypt'];
const BLOCK_BYTES = 1448;
export const KEYS: AuthKeys = deriveAuthKeys(Buffer.from('0123456789abcdef0123456789abcdef', 'latin1'));
export const OTHER_KEYS: AuthKeys = deriveAuthKeys(Buffer.from('another secret, just as long....', 'latin1'));

/** A DATA datagram as the sender core sends it: header and payload as two parts. */
export function dataParts(seed: number, payloadBytes = BLOCK_BYTES): [Buffer, Buffer] {
  const header = Buffer.alloc(DATA_HEADER_SIZE);
  encodeDataHeader({ sessionId: 0x5e55_1011, seq: seed, sliceNo: 7, sliceBytes: 64 * BLOCK_BYTES, flags: 0, stripe: 0, blockNo: 3 }, header);
  // A recognisable payload, so "the image does not appear on the wire" has something to look for.
  const payload = Buffer.alloc(payloadBytes);
  const rnd = mulberry32(seed);
  const text = Buffer.from('rackcast image bytes: ', 'latin1');
  for (let i = 0; i < payloadBytes; i++) payload[i] = i % 32 < text.length ? text[i % 32]! : Math.floor(rnd() * 256);
  return [header, payload];
}

/** The parts of a datagram as one Buffer (what goes on the wire). */
export function joinParts(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}
