// The common header that starts every rackcast datagram.
//
// off size field
//   0    2 magic      0x5243 ('RC')
//   2    1 version    2 (1: receivers multicast all their feedback; 2: STATUS, JOIN,
//                         REPORT and LEAVE go to the sender alone, see docs/ARCHITECTURE.md)
//   3    1 type       MessageType
//   4    4 sessionId  u32 BE, chosen at random by the sender
//
// Everything is big-endian and written through DataView with `false` spelled out.

import { err, ok, type Result } from './result.js';

export const MAGIC = 0x5243;
export const VERSION = 2;
export const HEADER_SIZE = 8;

export const OFF_MAGIC = 0;
export const OFF_VERSION = 2;
export const OFF_TYPE = 3;
export const OFF_SESSION = 4;

export enum MessageType {
  Hello = 1,
  Join = 2,
  Accept = 3,
  Start = 4,
  Data = 5,
  Nak = 6,
  Status = 7,
  Reqack = 8,
  End = 9,
  Report = 10,
  ReportAck = 11,
  Leave = 12,
  Drop = 13,
  CloneReport = 14,
  CloneReportAck = 15,
  Heartbeat = 16,
  CatchUp = 17,
}

export const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = {
  [MessageType.Hello]: 'HELLO',
  [MessageType.Join]: 'JOIN',
  [MessageType.Accept]: 'ACCEPT',
  [MessageType.Start]: 'START',
  [MessageType.Data]: 'DATA',
  [MessageType.Nak]: 'NAK',
  [MessageType.Status]: 'STATUS',
  [MessageType.Reqack]: 'REQACK',
  [MessageType.End]: 'END',
  [MessageType.Report]: 'REPORT',
  [MessageType.ReportAck]: 'REPORT_ACK',
  [MessageType.Leave]: 'LEAVE',
  [MessageType.Drop]: 'DROP',
  [MessageType.CloneReport]: 'CLONE_REPORT',
  [MessageType.CloneReportAck]: 'CLONE_REPORT_ACK',
  [MessageType.Heartbeat]: 'HEARTBEAT',
  [MessageType.CatchUp]: 'CATCHUP',
};

/** Capability bits exchanged in HELLO and JOIN, as udpcast does, so features can change without a version bump. */
export const CAP_PARITY_REPAIR = 1 << 0;
/** HELLO: no return channel (--async); receivers send nothing and fail on a slice they cannot rebuild. */
export const CAP_ASYNC = 1 << 1;
/**
 * HELLO: the sender takes receivers after START (--streaming): a late receiver gets the
 * rest of the image live and the head by repair, re-read from the sender's source.
 */
export const CAP_STREAMING = 1 << 2;
/**
 * HELLO, --async with a carousel: the image is sent again after the pass under way, so a
 * slice missed now comes again. Cleared in the HELLOs of the last pass: from then on a
 * slice a receiver cannot rebuild is lost for good.
 */
export const CAP_MORE_PASSES = 1 << 3;
/**
 * HELLO: the sender serves a catch-up pass (its source can be read again): a receiver too
 * slow for the rack is moved there instead of holding it back, and a late receiver (with
 * --streaming) whose output takes the image only in order takes all of it there.
 */
export const CAP_CATCH_UP = 1 << 4;
/**
 * HELLO: the image begins with a gzip or LZ4 stream's magic bytes, so a receiver that
 * decompresses by magic takes it only in order (a late one: in the catch-up pass).
 */
export const CAP_IMAGE_COMPRESSED = 1 << 5;
/**
 * JOIN, late (--streaming): this receiver takes the image only in order (its output is a
 * stream, an unpacker or a decompressor), so it takes all of it in the catch-up pass.
 */
export const CAP_IN_ORDER = 1 << 6;
/**
 * HELLO: the sender waits for the clone agents' reports after the transfer (--clone-reports):
 * a receiver that is part of a clone (rackcast-clone) sends CLONE_REPORT when its clone
 * ended. Without it an agent does not send one, so it does not wait for an ack that no
 * sender will give.
 */
export const CAP_CLONE_REPORTS = 1 << 7;
export const CAPS_SUPPORTED =
  CAP_PARITY_REPAIR | CAP_ASYNC | CAP_STREAMING | CAP_MORE_PASSES | CAP_CATCH_UP | CAP_IMAGE_COMPRESSED | CAP_IN_ORDER | CAP_CLONE_REPORTS;

export interface Header {
  readonly type: MessageType;
  readonly sessionId: number;
}

export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeHeader(type: MessageType, sessionId: number, buf: Uint8Array): number {
  return encodeHeaderAt(view(buf), 0, type, sessionId);
}

export function encodeHeaderAt(v: DataView, off: number, type: MessageType, sessionId: number): number {
  v.setUint16(off + OFF_MAGIC, MAGIC, false);
  v.setUint8(off + OFF_VERSION, VERSION);
  v.setUint8(off + OFF_TYPE, type);
  v.setUint32(off + OFF_SESSION, sessionId >>> 0, false);
  return HEADER_SIZE;
}

/** Checks the common header; the message decoder checks the type it expects. */
export function decodeHeader(bytes: Uint8Array): Result<Header> {
  if (bytes.byteLength < HEADER_SIZE) return err('ERR_TRUNCATED', 'header');
  const v = view(bytes);
  if (v.getUint16(OFF_MAGIC, false) !== MAGIC) return err('ERR_BAD_MAGIC', 'header');
  if (v.getUint8(OFF_VERSION) !== VERSION) return err('ERR_BAD_VERSION', `version ${v.getUint8(OFF_VERSION)}`);
  const type = v.getUint8(OFF_TYPE);
  if (MESSAGE_TYPE_NAMES[type] === undefined) return err('ERR_BAD_TYPE', `type ${type}`);
  return ok({ type: type as MessageType, sessionId: v.getUint32(OFF_SESSION, false) });
}

/** Checks header and exact type, and that the datagram is at least `size` bytes. */
export function expectHeader(bytes: Uint8Array, type: MessageType, size: number): Result<Header> {
  const h = decodeHeader(bytes);
  if (!h.ok) return h;
  if (h.value.type !== type) return err('ERR_BAD_TYPE', `expected ${MESSAGE_TYPE_NAMES[type]}`);
  if (bytes.byteLength < size) return err('ERR_TRUNCATED', MESSAGE_TYPE_NAMES[type]!);
  return h;
}

/** u64 fields hold byte counts; JavaScript numbers are exact to 2^53, which is 8 PiB. */
export const MAX_U53 = Number.MAX_SAFE_INTEGER;

export function setU64(v: DataView, off: number, n: number): void {
  v.setUint32(off, Math.floor(n / 0x1_0000_0000), false);
  v.setUint32(off + 4, n >>> 0, false);
}

/** Returns -1 when the value does not fit in 53 bits (the caller rejects it). */
export function getU64(v: DataView, off: number): number {
  const hi = v.getUint32(off, false);
  const lo = v.getUint32(off + 4, false);
  if (hi > 0x1f_ffff) return -1;
  return hi * 0x1_0000_0000 + lo;
}

// The cores (sender/core.ts, receiver/core.ts) and tests import these from here; the codec
// itself is protocol/ipv4.ts.
export { ipv4ToU32, u32ToIpv4 } from './ipv4.js';
