// CLONE_REPORT — clone agent → rendezvous group. A node that received the image in a clone
// (rackcast-clone) tells the sender how the whole clone ended: its host name, what became
// of the partition table and the partitions, the fixups, the bootloader, and the step that
// failed if one did. Sent only after the transfer verified (the sender has its REPORT), by
// the receiver id that REPORT carried; repeated with backoff until CLONE_REPORT_ACK.
//
// off size field
//   0    8 header              (type 14)
//   8    4 receiverId          u32, nonzero: the id the node joined the transfer with
//  12    1 outcome             u8 CloneOutcome: 0 = done, 1 = failed
//  13    1 failedStep          u8 CloneStep: 0 (none) exactly when done
//  14    1 table               u8 CloneTable
//  15    1 fixups              u8 CloneStage: failed only when the outcome is failed
//  16    1 bootloader          u8 CloneStage: failed only when the outcome is failed
//  17    1 bootloaderKind      u8 CloneBootloader: none when bootloader is "none", not
//                                 none when it is ok or failed
//  18    1 partitionsFormatted u8 partitions given a new file system (or the raw image)
//  19    1 partitionsKept      u8 partitions kept with their file system (the /data rule)
//  20    4 elapsedMs           u32 since the agent started
//  24    1 hostBytes           u8 length of host, 0..64 (0: no host name set)
//  25    1 detailBytes         u8 length of detail, 0..240
//  26    h host                ASCII letters, digits, '-' and '.'
//  26+h  d detail              UTF-8 text: why the step failed (empty when done)

import { encodeHeader, expectHeader, MessageType, view } from '../header.js';
import { err, ok, type Result } from '../result.js';
import { decodeDetail, detailBytes, MAX_DETAIL_BYTES } from '../text.js';

export const CLONE_REPORT_HEADER_SIZE = 26;
/** Linux's HOST_NAME_MAX. */
export const MAX_HOST_BYTES = 64;
const OFF_RECEIVER_ID = 8;
const OFF_OUTCOME = 12;
const OFF_FAILED_STEP = 13;
const OFF_TABLE = 14;
const OFF_FIXUPS = 15;
const OFF_BOOTLOADER = 16;
const OFF_BOOTLOADER_KIND = 17;
const OFF_PARTITIONS_FORMATTED = 18;
const OFF_PARTITIONS_KEPT = 19;
const OFF_ELAPSED_MS = 20;
const OFF_HOST_BYTES = 24;
const OFF_DETAIL_BYTES = 25;

export enum CloneOutcome {
  Done = 0,
  Failed = 1,
}

/** The clone agent's steps in order (clone/steps.ts names them the same; a test holds the two together). */
export const CLONE_STEP_NAMES = ['none', 'plan', 'disk', 'table', 'partition', 'mkfs', 'mount', 'receive', 'fixups', 'bootloader', 'finish'] as const;
export type CloneStepName = (typeof CLONE_STEP_NAMES)[number];
const MAX_CLONE_STEP = CLONE_STEP_NAMES.length - 1;

export enum CloneTable {
  /** The clone stopped before the table step. */
  NotReached = 0,
  /** The plan's table was written (every partition new). */
  Written = 1,
  /** The disk's table matched the plan and was kept. */
  Kept = 2,
  /** A whole-disk image: the table came with the image. */
  FromImage = 3,
}

export enum CloneStage {
  NotRun = 0,
  /** Fixups applied; the bootloader installed. */
  Ok = 1,
  Failed = 2,
  /** Nothing to do: no root file system for fixups, or bootloader "none" in the plan. */
  None = 3,
}

export enum CloneBootloader {
  None = 0,
  Extlinux = 1,
  Grub = 2,
}

export const CLONE_TABLE_NAMES: Readonly<Record<CloneTable, string>> = ['—', 'written', 'kept', 'from image'];
export const CLONE_BOOTLOADER_NAMES: Readonly<Record<CloneBootloader, string>> = ['none', 'extlinux', 'grub'];

export interface CloneReport {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly outcome: CloneOutcome;
  /** Index into CLONE_STEP_NAMES; 0 when done. */
  readonly failedStep: number;
  readonly table: CloneTable;
  readonly fixups: CloneStage;
  readonly bootloader: CloneStage;
  readonly bootloaderKind: CloneBootloader;
  readonly partitionsFormatted: number;
  readonly partitionsKept: number;
  readonly elapsedMs: number;
  readonly host: string;
  readonly detail: string;
}

const HOST_RE = /^[A-Za-z0-9.-]*$/;

/** A host name the wire can carry (ASCII letters, digits, '-', '.', at most 64). */
export function isWireHost(host: string): boolean {
  return host.length <= MAX_HOST_BYTES && HOST_RE.test(host);
}

export function cloneReportLength(msg: CloneReport): number {
  return CLONE_REPORT_HEADER_SIZE + msg.host.length + detailBytes(msg.detail).byteLength;
}

const u8 = (n: number, name: string): number => {
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new RangeError(`CLONE_REPORT ${name} must be 0..255`);
  return n;
};

export function encodeCloneReport(msg: CloneReport, buf: Uint8Array, off = 0): number {
  if (!isWireHost(msg.host)) throw new RangeError('CLONE_REPORT host must be at most 64 of A-Z a-z 0-9 - .');
  const detail = detailBytes(msg.detail);
  const len = CLONE_REPORT_HEADER_SIZE + msg.host.length + detail.byteLength;
  const b = buf.subarray(off, off + len);
  encodeHeader(MessageType.CloneReport, msg.sessionId, b);
  const v = view(b);
  v.setUint32(OFF_RECEIVER_ID, msg.receiverId >>> 0, false);
  v.setUint8(OFF_OUTCOME, msg.outcome);
  v.setUint8(OFF_FAILED_STEP, u8(msg.failedStep, 'failedStep'));
  v.setUint8(OFF_TABLE, msg.table);
  v.setUint8(OFF_FIXUPS, msg.fixups);
  v.setUint8(OFF_BOOTLOADER, msg.bootloader);
  v.setUint8(OFF_BOOTLOADER_KIND, msg.bootloaderKind);
  v.setUint8(OFF_PARTITIONS_FORMATTED, u8(msg.partitionsFormatted, 'partitionsFormatted'));
  v.setUint8(OFF_PARTITIONS_KEPT, u8(msg.partitionsKept, 'partitionsKept'));
  v.setUint32(OFF_ELAPSED_MS, Math.min(Math.max(0, Math.round(msg.elapsedMs)), 0xffff_ffff), false);
  v.setUint8(OFF_HOST_BYTES, msg.host.length);
  v.setUint8(OFF_DETAIL_BYTES, detail.byteLength);
  for (let i = 0; i < msg.host.length; i++) b[CLONE_REPORT_HEADER_SIZE + i] = msg.host.charCodeAt(i);
  b.set(detail, CLONE_REPORT_HEADER_SIZE + msg.host.length);
  return len;
}

function isHostByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e;
}

export function decodeCloneReport(bytes: Uint8Array): Result<CloneReport> {
  const h = expectHeader(bytes, MessageType.CloneReport, CLONE_REPORT_HEADER_SIZE);
  if (!h.ok) return h;
  const v = view(bytes);
  const receiverId = v.getUint32(OFF_RECEIVER_ID, false);
  const outcome = v.getUint8(OFF_OUTCOME);
  const failedStep = v.getUint8(OFF_FAILED_STEP);
  const table = v.getUint8(OFF_TABLE);
  const fixups = v.getUint8(OFF_FIXUPS);
  const bootloader = v.getUint8(OFF_BOOTLOADER);
  const bootloaderKind = v.getUint8(OFF_BOOTLOADER_KIND);
  const hostLen = v.getUint8(OFF_HOST_BYTES);
  const detailLen = v.getUint8(OFF_DETAIL_BYTES);
  if (hostLen > MAX_HOST_BYTES) return err('ERR_BAD_FIELD', 'CLONE_REPORT hostBytes');
  if (detailLen > MAX_DETAIL_BYTES) return err('ERR_BAD_FIELD', 'CLONE_REPORT detailBytes');
  const total = CLONE_REPORT_HEADER_SIZE + hostLen + detailLen;
  if (bytes.byteLength < total) return err('ERR_TRUNCATED', 'CLONE_REPORT');
  if (bytes.byteLength !== total) return err('ERR_BAD_LENGTH', 'CLONE_REPORT');
  if (receiverId === 0) return err('ERR_BAD_FIELD', 'CLONE_REPORT receiverId');
  if (outcome > CloneOutcome.Failed) return err('ERR_BAD_FIELD', 'CLONE_REPORT outcome');
  if (failedStep > MAX_CLONE_STEP || (outcome === CloneOutcome.Done) !== (failedStep === 0)) return err('ERR_BAD_FIELD', 'CLONE_REPORT failedStep');
  if (table > CloneTable.FromImage) return err('ERR_BAD_FIELD', 'CLONE_REPORT table');
  if (fixups > CloneStage.None || (fixups === CloneStage.Failed && outcome === CloneOutcome.Done)) return err('ERR_BAD_FIELD', 'CLONE_REPORT fixups');
  if (bootloader > CloneStage.None || (bootloader === CloneStage.Failed && outcome === CloneOutcome.Done))
    return err('ERR_BAD_FIELD', 'CLONE_REPORT bootloader');
  // An installed or failed bootloader has a kind; "none" has none; not run: the plan's kind.
  const kindNone = bootloaderKind === CloneBootloader.None;
  if (
    bootloaderKind > CloneBootloader.Grub ||
    (bootloader === CloneStage.None && !kindNone) ||
    ((bootloader === CloneStage.Ok || bootloader === CloneStage.Failed) && kindNone)
  ) {
    return err('ERR_BAD_FIELD', 'CLONE_REPORT bootloaderKind');
  }
  let host = '';
  for (let i = 0; i < hostLen; i++) {
    const c = bytes[CLONE_REPORT_HEADER_SIZE + i]!;
    if (!isHostByte(c)) return err('ERR_BAD_FIELD', 'CLONE_REPORT host');
    host += String.fromCharCode(c);
  }
  const detailAt = CLONE_REPORT_HEADER_SIZE + hostLen;
  return ok({
    sessionId: h.value.sessionId,
    receiverId,
    outcome,
    failedStep,
    table,
    fixups,
    bootloader,
    bootloaderKind,
    partitionsFormatted: v.getUint8(OFF_PARTITIONS_FORMATTED),
    partitionsKept: v.getUint8(OFF_PARTITIONS_KEPT),
    elapsedMs: v.getUint32(OFF_ELAPSED_MS, false),
    host,
    detail: decodeDetail(bytes.subarray(detailAt, detailAt + detailLen)),
  });
}
