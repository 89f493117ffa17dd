// Hostile datagrams for the sans-IO cores: seeded generators of broken and hostile
// datagrams — mutations of real packets of every type (bit flips, truncation, extension,
// out-of-range field values, wrong session, wrong version, wrong magic, a changed type,
// spliced bodies), fresh packets of every type with random field values (built with the
// tests' own builders, ../datagrams.ts), random bytes. Everything random comes from the
// Rng handed in, so a seed replays the same datagrams.
//
// Used by the fuzz scenarios (./transfer.ts, ./decoders.ts) and by
// test/integration/spray-mutants.mjs (the same mutations sprayed at real processes on
// loopback; it imports the build of this file).

import { blockPayloadBytes, blocksInSlice, fullSliceBytes, type Geometry, maxParity, stripeBlocks } from '../../../protocol/geometry.js';
import { CAP_ASYNC, CAP_PARITY_REPAIR, HEADER_SIZE, MAGIC, MESSAGE_TYPE_NAMES, MessageType, VERSION } from '../../../protocol/header.js';
import { CATCH_UP_WHY_MAX } from '../../../protocol/messages/catch-up.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { DROP_ALL } from '../../../protocol/messages/drop.js';
import { LIMIT_MAX } from '../../../protocol/messages/heartbeat.js';
import { IMAGE_BYTES_UNKNOWN } from '../../../protocol/messages/hello.js';
import { MAX_REASON } from '../../../protocol/reasons.js';
import {
  acceptBytes,
  catchUpBytes,
  cloneReportAckBytes,
  cloneReportBytes,
  dataBytes,
  dropBytes,
  endBytes,
  heartbeatBytes,
  helloBytes,
  joinBytes,
  leaveBytes,
  nakBytes,
  reportAckBytes,
  reportBytes,
  reqackBytes,
  startBytes,
  statusBytes,
} from '../datagrams.js';
import type { Rng } from '../prng.js';

// ---- the wire layouts, as fields to aim at -------------------------------------------------

export interface Field {
  readonly name: string;
  readonly off: number;
  readonly size: 1 | 2 | 3 | 4 | 8 | 32;
}

/** The fields of every type after the common header, from the layout tables in protocol/messages/*.ts. */
export const FIELDS: Readonly<Record<MessageType, readonly Field[]>> = {
  [MessageType.Hello]: [
    { name: 'caps', off: 8, size: 4 },
    { name: 'blockBytes', off: 12, size: 2 },
    { name: 'sliceBlocks', off: 14, size: 2 },
    { name: 'stripes', off: 16, size: 1 },
    { name: 'phase', off: 17, size: 1 },
    { name: 'dataPort', off: 18, size: 2 },
    { name: 'dataGroup', off: 20, size: 4 },
    { name: 'imageBytes', off: 24, size: 8 },
    { name: 'retainSlices', off: 32, size: 2 },
    { name: 'redundancy', off: 34, size: 1 },
    { name: 'reserved', off: 35, size: 1 },
  ],
  [MessageType.Join]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'caps', off: 12, size: 4 },
    { name: 'rcvBufBytes', off: 16, size: 4 },
  ],
  [MessageType.Accept]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'joinSlice', off: 12, size: 4 },
  ],
  [MessageType.Start]: [
    { name: 'receivers', off: 8, size: 2 },
    { name: 'windowPackets', off: 10, size: 2 },
  ],
  [MessageType.Data]: [
    { name: 'seq', off: 8, size: 4 },
    { name: 'sliceNo', off: 12, size: 4 },
    { name: 'sliceBytes', off: 16, size: 4 },
    { name: 'flags', off: 20, size: 1 },
    { name: 'stripe', off: 21, size: 1 },
    { name: 'blockNo', off: 22, size: 2 },
  ],
  [MessageType.Nak]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'sliceNo', off: 12, size: 4 },
    { name: 'stripes', off: 16, size: 1 },
    { name: 'reserved', off: 17, size: 1 },
    { name: 'seenSeq', off: 18, size: 4 },
    { name: 'need[0]', off: 22, size: 1 },
  ],
  [MessageType.Status]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'flags', off: 12, size: 1 },
    { name: 'reserved', off: 13, size: 3 },
    { name: 'seenSeq', off: 16, size: 4 },
    { name: 'deliveredSlices', off: 20, size: 4 },
    { name: 'bytesWritten', off: 24, size: 8 },
    { name: 'reqackId', off: 32, size: 4 },
    { name: 'lossPpm', off: 36, size: 4 },
  ],
  [MessageType.Reqack]: [
    { name: 'reqackId', off: 8, size: 4 },
    { name: 'needSlices', off: 12, size: 4 },
    { name: 'needSeq', off: 16, size: 4 },
    { name: 'flags', off: 20, size: 1 },
    { name: 'reserved', off: 21, size: 1 },
    { name: 'answerWindowMs', off: 22, size: 2 },
    { name: 'groupSize', off: 24, size: 4 },
    { name: 'heartbeatMs', off: 28, size: 4 },
  ],
  [MessageType.End]: [
    { name: 'totalBytes', off: 8, size: 8 },
    { name: 'totalSlices', off: 16, size: 4 },
    { name: 'digest', off: 20, size: 32 },
  ],
  [MessageType.Report]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'outcome', off: 12, size: 1 },
    { name: 'reason', off: 13, size: 1 },
    { name: 'detailBytes', off: 14, size: 2 },
    { name: 'bytesWritten', off: 16, size: 8 },
    { name: 'digest', off: 24, size: 32 },
  ],
  [MessageType.ReportAck]: [{ name: 'receiverId', off: 8, size: 4 }],
  [MessageType.Leave]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'reason', off: 12, size: 1 },
    { name: 'reserved', off: 13, size: 1 },
    { name: 'detailBytes', off: 14, size: 2 },
  ],
  [MessageType.Drop]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'reason', off: 12, size: 1 },
    { name: 'reserved', off: 13, size: 3 },
  ],
  [MessageType.CloneReport]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'outcome', off: 12, size: 1 },
    { name: 'failedStep', off: 13, size: 1 },
    { name: 'table', off: 14, size: 1 },
    { name: 'fixups', off: 15, size: 1 },
    { name: 'bootloader', off: 16, size: 1 },
    { name: 'bootloaderKind', off: 17, size: 1 },
    { name: 'partitionsFormatted', off: 18, size: 1 },
    { name: 'partitionsKept', off: 19, size: 1 },
    { name: 'elapsedMs', off: 20, size: 4 },
    { name: 'hostBytes', off: 24, size: 1 },
    { name: 'detailBytes', off: 25, size: 1 },
  ],
  [MessageType.CloneReportAck]: [{ name: 'receiverId', off: 8, size: 4 }],
  [MessageType.Heartbeat]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'limit', off: 12, size: 1 },
    { name: 'flags', off: 13, size: 1 },
    { name: 'cpuPermille', off: 14, size: 2 },
    { name: 'elapsedMs', off: 16, size: 4 },
    { name: 'bytesWritten', off: 20, size: 8 },
    { name: 'outputBytes', off: 28, size: 8 },
    { name: 'sinkBusyMs', off: 36, size: 4 },
    { name: 'outputBusyMs', off: 40, size: 4 },
    { name: 'packetsRead', off: 44, size: 4 },
    { name: 'packetsSent', off: 48, size: 4 },
    { name: 'repairedBlocks', off: 52, size: 4 },
    { name: 'deliveredSlices', off: 56, size: 4 },
  ],
  [MessageType.CatchUp]: [
    { name: 'receiverId', off: 8, size: 4 },
    { name: 'why', off: 12, size: 1 },
    { name: 'reserved', off: 13, size: 3 },
    { name: 'rateKBps', off: 16, size: 4 },
    { name: 'paceKBps', off: 20, size: 4 },
  ],
};

export const ALL_TYPES: readonly MessageType[] = Object.keys(MESSAGE_TYPE_NAMES)
  .map(Number)
  .sort((a, b) => a - b) as MessageType[];

// ---- fresh packets ----------------------------------------------------------------------

/** What the generators know of the session they aim at (all optional: a stranger knows nothing). */
export interface Target {
  readonly sessionId: number;
  readonly geometry?: Geometry;
  readonly receiverIds?: readonly number[];
  /** Slices of interest (in flight, NAKable): fresh DATA and NAKs aim near them. */
  readonly sliceHint?: number;
}

/** A number for a field: mostly plausible, often an edge of its range. */
function edgy(rng: Rng, plausible: number, max: number): number {
  switch (rng.int(0, 6)) {
    case 0:
      return 0;
    case 1:
      return max;
    case 2:
      return Math.min(max, plausible + 1);
    case 3:
      return Math.max(0, plausible - 1);
    case 4:
      return rng.int(0, Math.min(max, 0x7fff_ffff) + 1);
    default:
      return plausible;
  }
}

/**
 * A well-formed datagram of `type`, fields random but mostly near the session's own values
 * (so that many pass the decoder and reach the cores' session and range checks).
 */
export function freshPacket(rng: Rng, type: MessageType, t: Target): Uint8Array {
  const sessionId = rng.chance(0.7) ? t.sessionId : rng.u32();
  const ids = t.receiverIds ?? [];
  const rid = (): number => (ids.length > 0 && rng.chance(0.6) ? rng.pick(ids) : rng.u32() || 1);
  const g = t.geometry ?? { blockBytes: 64 + rng.int(0, 1400), sliceBlocks: rng.int(1, 64), stripes: 1, imageBytes: IMAGE_BYTES_UNKNOWN };
  const sliceNo = (): number => edgy(rng, Math.max(0, (t.sliceHint ?? 0) + rng.int(-2, 3)), 0xffff_ffff);
  const stripes = Math.max(1, g.stripes);
  const digest = rng.bytes(32);
  switch (type) {
    case MessageType.Hello:
      return helloBytes({
        sessionId,
        caps: rng.chance(0.8) ? CAP_PARITY_REPAIR | (rng.chance(0.2) ? CAP_ASYNC : 0) : rng.u32(),
        blockBytes: g.blockBytes,
        sliceBlocks: g.sliceBlocks,
        stripes,
        phase: rng.int(0, 2),
        dataPort: rng.int(1, 65536),
        dataGroup: (0xe000_0000 | (rng.u32() & 0x0fff_ffff)) >>> 0,
        imageBytes: rng.chance(0.3) ? IMAGE_BYTES_UNKNOWN : rng.int(0, 1 << 24),
        retainSlices: rng.int(1, 4097),
        redundancy: rng.int(0, 3),
      });
    case MessageType.Join:
      return joinBytes({ sessionId, receiverId: rid(), caps: rng.chance(0.7) ? CAP_PARITY_REPAIR : rng.u32(), rcvBufBytes: rng.u32() });
    case MessageType.Accept:
      return acceptBytes(rid(), sessionId, rng.chance(0.7) ? 0 : rng.u32());
    case MessageType.Start: {
      const receivers = rng.int(0, 65536);
      return startBytes(rng.int(1, 65536), receivers, sessionId);
    }
    case MessageType.Data: {
      const parity = rng.chance(0.4);
      const full = fullSliceBytes(g);
      const sliceBytes = rng.chance(0.7) ? full : edgy(rng, rng.int(1, full + 1), 0xffff_ffff) || 1;
      const nBlocks = Math.max(1, blocksInSlice(g, Math.min(sliceBytes, full)));
      const stripe = parity ? edgy(rng, rng.int(0, stripes), 255) : 0;
      const k = stripeBlocks(g, nBlocks, Math.min(stripe, stripes - 1));
      const blockNo = parity ? edgy(rng, rng.int(0, Math.max(1, maxParity(Math.max(1, k)))), 0xffff) : edgy(rng, rng.int(0, nBlocks), 0xffff);
      const len = parity
        ? rng.chance(0.8)
          ? g.blockBytes
          : rng.int(1, g.blockBytes * 2)
        : rng.chance(0.8)
          ? Math.max(1, blockPayloadBytes(g, Math.min(sliceBytes, full), Math.min(blockNo, nBlocks - 1)))
          : rng.int(1, g.blockBytes * 2);
      let flags = (parity ? DATA_FLAG_PARITY : 0) | (rng.chance(0.2) ? DATA_FLAG_LAST : 0) | (rng.chance(0.2) ? DATA_FLAG_REPAIR : 0);
      if (sliceBytes < full || rng.chance(0.1)) flags |= DATA_FLAG_FINAL_SLICE;
      const payload = rng.bytes(Math.min(len, 9000));
      return dataBytes({ sessionId, seq: edgy(rng, rng.int(1, 1000), 0xffff_ffff), sliceNo: sliceNo(), sliceBytes, flags, stripe, blockNo, payload });
    }
    case MessageType.Nak: {
      const n = rng.chance(0.8) ? stripes : rng.int(1, 129);
      const msg = {
        sessionId,
        receiverId: rid(),
        sliceNo: sliceNo(),
        seenSeq: edgy(rng, rng.int(0, 1000), 0xffff_ffff),
        need: Array.from({ length: n }, () => edgy(rng, rng.int(0, 4), 255)),
        heard: Array.from({ length: n }, () => edgy(rng, rng.int(0, 4), 255)),
      };
      return nakBytes(msg);
    }
    case MessageType.Status: {
      const flags = rng.int(0, 4);
      return statusBytes({
        sessionId,
        receiverId: rid(),
        flags,
        seenSeq: edgy(rng, rng.int(0, 1000), 0xffff_ffff),
        deliveredSlices: edgy(rng, (t.sliceHint ?? 0) + rng.int(-2, 3), 0xffff_ffff),
        bytesWritten: edgy(rng, rng.int(0, 1 << 20), 2 ** 53 - 1),
        reqackId: (flags & 1) !== 0 ? edgy(rng, rng.int(1, 100), 0xffff_ffff) : 0,
        lossPpm: edgy(rng, rng.int(0, 20_000), 1_000_000),
      });
    }
    case MessageType.Reqack: {
      const quiet = rng.chance(0.5);
      return reqackBytes({
        sessionId,
        reqackId: rng.u32() || 1,
        needSlices: sliceNo(),
        needSeq: edgy(rng, rng.int(0, 1000), 0xffff_ffff),
        flags: quiet ? 1 : 0,
        answerWindowMs: edgy(rng, rng.int(0, 10), 0xffff),
        groupSize: edgy(rng, rng.int(1, 2000), 0xffff_ffff),
        heartbeatMs: quiet ? edgy(rng, rng.int(1, 2000), 0xffff_ffff) : 0,
      });
    }
    case MessageType.End: {
      const image = g.imageBytes === IMAGE_BYTES_UNKNOWN ? rng.int(0, 1 << 20) : g.imageBytes;
      const totalBytes = rng.chance(0.5) ? image : edgy(rng, image, 2 ** 53 - 1);
      const full = fullSliceBytes(g);
      const totalSlices = rng.chance(0.7) ? Math.ceil(totalBytes / full) : edgy(rng, Math.ceil(totalBytes / full), 0xffff_ffff);
      return endBytes(totalBytes, totalSlices, digest, sessionId);
    }
    case MessageType.Report: {
      const verified = rng.chance(0.5);
      const msg = {
        sessionId,
        receiverId: rid(),
        outcome: verified ? 0 : 1,
        reason: verified ? 0 : rng.int(1, MAX_REASON + 1),
        bytesWritten: edgy(rng, g.imageBytes === IMAGE_BYTES_UNKNOWN ? 0 : g.imageBytes, 2 ** 53 - 1),
        digest,
        detail: rng.chance(0.5) ? '' : 'x'.repeat(rng.int(0, 300)),
      };
      return reportBytes(msg);
    }
    case MessageType.ReportAck:
      return reportAckBytes(rid(), sessionId);
    case MessageType.Leave: {
      const msg = { sessionId, receiverId: rid(), reason: rng.int(1, MAX_REASON + 1), detail: rng.chance(0.5) ? '' : 'ENOSPC'.repeat(rng.int(0, 50)) };
      return leaveBytes(msg);
    }
    case MessageType.Drop:
      return dropBytes(rng.chance(0.3) ? DROP_ALL : rid(), rng.int(0, MAX_REASON + 1), sessionId);
    case MessageType.CloneReport: {
      const done = rng.chance(0.6);
      return cloneReportBytes({
        sessionId,
        receiverId: rid(),
        outcome: done ? 0 : 1,
        failedStep: done ? 0 : rng.int(1, 11),
        table: rng.int(0, 4),
        fixups: rng.pick(done ? [0, 1, 3] : [0, 1, 2, 3]),
        bootloader: 1,
        bootloaderKind: rng.int(1, 3),
        partitionsFormatted: rng.int(0, 256),
        partitionsKept: rng.int(0, 256),
        elapsedMs: rng.u32(),
        host: 'n'.repeat(rng.int(0, 65)),
        detail: rng.chance(0.5) ? '' : 'x'.repeat(rng.int(0, 300)),
      });
    }
    case MessageType.CloneReportAck:
      return cloneReportAckBytes(rid(), sessionId);
    case MessageType.Heartbeat:
      return heartbeatBytes({
        sessionId,
        receiverId: rid(),
        limit: rng.int(0, LIMIT_MAX + 1),
        flags: rng.int(0, 2),
        cpuPermille: edgy(rng, rng.int(0, 1001), 0xffff),
        elapsedMs: edgy(rng, rng.int(0, 100_000), 0xffff_ffff),
        bytesWritten: edgy(rng, rng.int(0, 1 << 20), 2 ** 53 - 1),
        outputBytes: edgy(rng, rng.int(0, 1 << 20), 2 ** 53 - 1),
        sinkBusyMs: edgy(rng, rng.int(0, 100_000), 0xffff_ffff),
        outputBusyMs: edgy(rng, rng.int(0, 100_000), 0xffff_ffff),
        packetsRead: rng.u32(),
        packetsSent: rng.u32(),
        repairedBlocks: rng.u32(),
        deliveredSlices: edgy(rng, (t.sliceHint ?? 0) + rng.int(-2, 3), 0xffff_ffff),
      });
    case MessageType.CatchUp:
      return catchUpBytes({ sessionId, receiverId: rid(), why: rng.int(1, CATCH_UP_WHY_MAX + 1), rateKBps: rng.u32(), paceKBps: rng.u32() });
  }
}

// ---- mutations ------------------------------------------------------------------------------

export const MUTATIONS = [
  'bitflip',
  'byte',
  'truncate',
  'extend',
  'field',
  'session',
  'version',
  'magic',
  'type',
  'zero-body',
  'random-body',
  'splice',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

function setField(v: DataView, f: Field, value: (bytes: number) => number): void {
  for (let i = 0; i < f.size; i++) if (f.off + i >= v.byteLength) return;
  if (f.size === 1) v.setUint8(f.off, value(1));
  else if (f.size === 2) v.setUint16(f.off, value(2), false);
  else if (f.size === 4) v.setUint32(f.off, value(4), false);
  else if (f.size === 8) {
    v.setUint32(f.off, value(4), false);
    v.setUint32(f.off + 4, value(4), false);
  } else {
    for (let i = 0; i < f.size; i++) v.setUint8(f.off + i, value(1));
  }
}

/** One mutation of `src` (never changed in place). `donor` is another datagram, for splices. */
export function mutate(rng: Rng, src: Uint8Array, kind: Mutation = rng.pick(MUTATIONS), donor?: Uint8Array): { bytes: Uint8Array; kind: Mutation } {
  let b = src.slice();
  const v = (): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (kind) {
    case 'bitflip': {
      const n = rng.int(1, 4);
      for (let i = 0; i < n && b.byteLength > 0; i++) b[rng.int(0, b.byteLength)]! ^= 1 << rng.int(0, 8);
      break;
    }
    case 'byte':
      if (b.byteLength > 0) b[rng.int(0, b.byteLength)] = rng.int(0, 256);
      break;
    case 'truncate':
      b = b.subarray(0, rng.chance(0.3) ? rng.int(0, Math.min(b.byteLength, HEADER_SIZE + 1)) : rng.int(0, b.byteLength));
      break;
    case 'extend': {
      const out = new Uint8Array(b.byteLength + rng.int(1, 65));
      out.set(b);
      out.set(rng.bytes(out.byteLength - b.byteLength), b.byteLength);
      b = out;
      break;
    }
    case 'field': {
      const type = b.byteLength > 3 ? (b[3] as MessageType) : MessageType.Hello;
      const fields = FIELDS[type] ?? FIELDS[MessageType.Hello];
      const f = rng.pick(fields);
      const mode = rng.int(0, 5);
      setField(v(), f, (bytes) => {
        const max = bytes === 1 ? 0xff : bytes === 2 ? 0xffff : 0xffff_ffff;
        return mode === 0 ? 0 : mode === 1 ? max : mode === 2 ? 1 : mode === 3 ? max - 1 : rng.int(0, max + 1);
      });
      break;
    }
    case 'session':
      if (b.byteLength >= HEADER_SIZE) v().setUint32(4, rng.u32(), false);
      break;
    case 'version':
      if (b.byteLength >= 3) b[2] = rng.chance(0.5) ? 0 : rng.int(VERSION + 1, 256);
      break;
    case 'magic':
      if (b.byteLength >= 2) v().setUint16(0, (MAGIC ^ (1 + rng.int(0, 0xffff))) & 0xffff, false);
      break;
    case 'type':
      // Another known type (the body is then read with the wrong layout) or an unknown one.
      if (b.byteLength >= 4) b[3] = rng.chance(0.8) ? rng.pick(ALL_TYPES) : rng.pick([0, ALL_TYPES.length + 1, ALL_TYPES.length + 2, 127, 255]);
      break;
    case 'zero-body':
      b.fill(0, Math.min(b.byteLength, HEADER_SIZE));
      break;
    case 'random-body':
      for (let i = HEADER_SIZE; i < b.byteLength; i++) b[i] = rng.int(0, 256);
      break;
    case 'splice': {
      const d = donor ?? rng.bytes(rng.int(0, 64));
      const cut = rng.int(0, b.byteLength + 1);
      const from = rng.int(0, d.byteLength + 1);
      const out = new Uint8Array(cut + d.byteLength - from);
      out.set(b.subarray(0, cut));
      out.set(d.subarray(from), cut);
      b = out;
      break;
    }
  }
  return { bytes: b, kind };
}

export type HostileKind = Mutation | 'fresh' | 'random-bytes' | 'short-header';

/**
 * One hostile datagram: a mutation of a real one (from `samples`), a fresh packet of a random
 * type, a mutated fresh packet, random bytes, or a cut header.
 */
export function hostileDatagram(rng: Rng, t: Target, samples: readonly Uint8Array[]): { bytes: Uint8Array; kind: HostileKind; type: MessageType | undefined } {
  const r = rng.next();
  let bytes: Uint8Array;
  let kind: HostileKind;
  if (r < 0.45 && samples.length > 0) {
    const m = mutate(rng, rng.pick(samples), undefined, rng.pick(samples));
    bytes = m.bytes;
    kind = m.kind;
  } else if (r < 0.7) {
    bytes = freshPacket(rng, rng.pick(ALL_TYPES), t);
    kind = 'fresh';
  } else if (r < 0.9) {
    const m = mutate(rng, freshPacket(rng, rng.pick(ALL_TYPES), t));
    bytes = m.bytes;
    kind = m.kind;
  } else if (r < 0.97) {
    bytes = rng.bytes(rng.chance(0.5) ? rng.int(0, 64) : rng.int(0, 1500));
    kind = 'random-bytes';
  } else {
    bytes = freshPacket(rng, rng.pick(ALL_TYPES), t).subarray(0, rng.int(0, HEADER_SIZE));
    kind = 'short-header';
  }
  return { bytes, kind, type: bytes.byteLength >= 4 && MESSAGE_TYPE_NAMES[bytes[3]!] !== undefined ? (bytes[3] as MessageType) : undefined };
}
