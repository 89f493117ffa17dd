// HELLO — sender → rendezvous group. Announces a session; repeated while receivers join
// and, less often, during the transfer.
//
// off size field
//   0    8 header          (type 1)
//   8    4 caps            u32 capability bits (CAP_*)
//  12    2 blockBytes      u16 payload bytes of a full data block, 16..65000
//  14    2 sliceBlocks     u16 data blocks in a full slice, 1..4096
//  16    1 stripes         u8  interleaved FEC stripes per slice, 1..128; ceil(sliceBlocks/stripes) <= 255
//  17    1 phase           u8  0 = announcing (joins accepted), 1 = transferring
//  18    2 dataPort        u16 UDP port of the data group, 1..65535
//  20    4 dataGroup       u32 IPv4 multicast address (224.0.0.0/4) the data goes to
//  24    8 imageBytes      u64 image size, or all ones when unknown (stdin, --pipe)
//  32    2 retainSlices    u16 slices the sender keeps for repair (the receivers' buffer bound), 1..4096
//  34    1 redundancy      u8  proactive parity blocks per stripe (0 = repair only)
//  35    1 reserved        0

import { encodeHeader, expectHeader, getU64, MessageType, setU64, view } from '../header.js';
import { isMulticastU32 } from '../ipv4.js';
import { err, ok, type Result } from '../result.js';

export const HELLO_SIZE = 36;
const OFF_CAPS = 8;
const OFF_BLOCK_BYTES = 12;
const OFF_SLICE_BLOCKS = 14;
const OFF_STRIPES = 16;
const OFF_PHASE = 17;
const OFF_DATA_PORT = 18;
const OFF_DATA_GROUP = 20;
const OFF_IMAGE_BYTES = 24;
const OFF_RETAIN_SLICES = 32;
const OFF_REDUNDANCY = 34;
const OFF_RESERVED = 35;

export const IMAGE_BYTES_UNKNOWN = -1;
export const MIN_BLOCK_BYTES = 16;
export const MAX_BLOCK_BYTES = 65000;
export const MAX_SLICE_BLOCKS = 4096;
export const MAX_STRIPES = 128;
export const MAX_RETAIN_SLICES = 4096;

export enum HelloPhase {
  Announcing = 0,
  Transferring = 1,
}

export interface Hello {
  readonly sessionId: number;
  readonly caps: number;
  readonly blockBytes: number;
  readonly sliceBlocks: number;
  readonly stripes: number;
  readonly phase: HelloPhase;
  readonly dataPort: number;
  readonly dataGroup: number;
  /** IMAGE_BYTES_UNKNOWN when the size is not known in advance. */
  readonly imageBytes: number;
  readonly retainSlices: number;
  readonly redundancy: number;
}

export function helloLength(): number {
  return HELLO_SIZE;
}

export function encodeHello(msg: Hello, buf: Uint8Array, off = 0): number {
  const b = buf.subarray(off, off + HELLO_SIZE);
  encodeHeader(MessageType.Hello, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_CAPS, msg.caps >>> 0, false);
  v.setUint16(OFF_BLOCK_BYTES, msg.blockBytes, false);
  v.setUint16(OFF_SLICE_BLOCKS, msg.sliceBlocks, false);
  v.setUint8(OFF_STRIPES, msg.stripes);
  v.setUint8(OFF_PHASE, msg.phase);
  v.setUint16(OFF_DATA_PORT, msg.dataPort, false);
  v.setUint32(OFF_DATA_GROUP, msg.dataGroup >>> 0, false);
  if (msg.imageBytes === IMAGE_BYTES_UNKNOWN) {
    v.setUint32(OFF_IMAGE_BYTES, 0xffff_ffff, false);
    v.setUint32(OFF_IMAGE_BYTES + 4, 0xffff_ffff, false);
  } else {
    setU64(v, OFF_IMAGE_BYTES, msg.imageBytes);
  }
  v.setUint16(OFF_RETAIN_SLICES, msg.retainSlices, false);
  v.setUint8(OFF_REDUNDANCY, msg.redundancy);
  v.setUint8(OFF_RESERVED, 0);
  return HELLO_SIZE;
}

export function decodeHello(bytes: Uint8Array): Result<Hello> {
  const h = expectHeader(bytes, MessageType.Hello, HELLO_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== HELLO_SIZE) return err('ERR_BAD_LENGTH', 'HELLO');
  const v = view(bytes);
  const blockBytes = v.getUint16(OFF_BLOCK_BYTES, false);
  const sliceBlocks = v.getUint16(OFF_SLICE_BLOCKS, false);
  const stripes = v.getUint8(OFF_STRIPES);
  const phase = v.getUint8(OFF_PHASE);
  const dataPort = v.getUint16(OFF_DATA_PORT, false);
  const dataGroup = v.getUint32(OFF_DATA_GROUP, false);
  const unknownSize = v.getUint32(OFF_IMAGE_BYTES, false) === 0xffff_ffff && v.getUint32(OFF_IMAGE_BYTES + 4, false) === 0xffff_ffff;
  const imageBytes = unknownSize ? IMAGE_BYTES_UNKNOWN : getU64(v, OFF_IMAGE_BYTES);
  const retainSlices = v.getUint16(OFF_RETAIN_SLICES, false);
  const redundancy = v.getUint8(OFF_REDUNDANCY);
  if (blockBytes < MIN_BLOCK_BYTES || blockBytes > MAX_BLOCK_BYTES) return err('ERR_BAD_FIELD', 'HELLO blockBytes');
  if (sliceBlocks < 1 || sliceBlocks > MAX_SLICE_BLOCKS) return err('ERR_BAD_FIELD', 'HELLO sliceBlocks');
  if (stripes < 1 || stripes > MAX_STRIPES || stripes > sliceBlocks) return err('ERR_BAD_FIELD', 'HELLO stripes');
  if (Math.ceil(sliceBlocks / stripes) > 255) return err('ERR_BAD_FIELD', 'HELLO stripe size');
  if (phase > HelloPhase.Transferring) return err('ERR_BAD_FIELD', 'HELLO phase');
  if (dataPort === 0) return err('ERR_BAD_FIELD', 'HELLO dataPort');
  if (!isMulticastU32(dataGroup)) return err('ERR_BAD_FIELD', 'HELLO dataGroup');
  if (imageBytes < 0 && !unknownSize) return err('ERR_BAD_FIELD', 'HELLO imageBytes');
  if (retainSlices < 1 || retainSlices > MAX_RETAIN_SLICES) return err('ERR_BAD_FIELD', 'HELLO retainSlices');
  if (redundancy > 255 - Math.ceil(sliceBlocks / stripes)) return err('ERR_BAD_FIELD', 'HELLO redundancy');
  if (v.getUint8(OFF_RESERVED) !== 0) return err('ERR_BAD_FIELD', 'HELLO reserved');
  return ok({
    sessionId: h.value.sessionId,
    caps: v.getUint32(OFF_CAPS, false),
    blockBytes,
    sliceBlocks,
    stripes,
    phase,
    dataPort,
    dataGroup,
    imageBytes,
    retainSlices,
    redundancy,
  });
}
