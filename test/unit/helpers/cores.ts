// Shared fixtures for the core unit tests: configs with small, round numbers, builders
// for every datagram a core can be fed, and drains that decode what a core sends. The
// tests drive one core at a time with explicit `now` values (STYLE 6, 9): no sockets,
// no timers, no simulator.

import { decodeDatagram, type Message } from '../../../protocol/codec.js';
import { CauchyReedSolomon } from '../../../protocol/fec/cauchy-rs.js';
import { CAP_PARITY_REPAIR, ipv4ToU32, MESSAGE_TYPE_NAMES, type MessageType } from '../../../protocol/header.js';
import { ACCEPT_SIZE, encodeAccept } from '../../../protocol/messages/accept.js';
import { type Data, encodeData } from '../../../protocol/messages/data.js';
import { encodeDrop } from '../../../protocol/messages/drop.js';
import { encodeEnd, END_SIZE } from '../../../protocol/messages/end.js';
import { encodeHello, type Hello, HELLO_SIZE } from '../../../protocol/messages/hello.js';
import { encodeJoin, JOIN_SIZE } from '../../../protocol/messages/join.js';
import { encodeLeave, type Leave, leaveLength } from '../../../protocol/messages/leave.js';
import { encodeNak, type Nak, nakLength } from '../../../protocol/messages/nak.js';
import { encodeReport, type Report, reportLength } from '../../../protocol/messages/report.js';
import { encodeReportAck } from '../../../protocol/messages/report-ack.js';
import { encodeReqack, type Reqack } from '../../../protocol/messages/reqack.js';
import { encodeStart } from '../../../protocol/messages/start.js';
import { encodeStatus, type Status } from '../../../protocol/messages/status.js';
import type { Reason } from '../../../protocol/reasons.js';
import type { ReceiverConfig, ReceiverCore } from '../../../receiver/core.js';
import type { SenderConfig, SenderCore } from '../../../sender/core.js';

export const SESSION = 0x1234abcd;
export const OTHER_SESSION = 0x0badf00d;
export const DATA_GROUP = '239.192.67.1';
export const DATA_PORT = 9000;
export const SENDER = { address: '198.18.0.1', port: 9001 } as const;
export const STRANGER = { address: '198.18.0.99', port: 9001 } as const;
export const coder = new CauchyReedSolomon();

/** The i-th receiver's endpoint and id (ids are nonzero and unrelated to the address on purpose). */
export function rcv(i: number): { readonly from: { address: string; port: number }; readonly id: number } {
  return { from: { address: `198.18.0.${11 + i}`, port: 9001 }, id: 0x100 + i };
}

// ---- configs ----------------------------------------------------------------------

/**
 * 100-byte blocks, 4 blocks a slice, one stripe, 10 slices: small enough to count every
 * packet by hand. Nothing starts by itself (minReceivers 0, no maxWait, no key).
 */
export function senderConfig(over: Partial<SenderConfig> = {}): Readonly<SenderConfig> {
  return Object.freeze({
    sessionId: SESSION,
    blockBytes: 100,
    sliceBlocks: 4,
    stripes: 1,
    redundancy: 0,
    async: false,
    carouselPasses: 1,
    streaming: false,
    dataGroup: DATA_GROUP,
    dataPort: DATA_PORT,
    imageBytes: 4000,
    retainSlices: 8,
    minReceivers: 0,
    minWaitMs: 0,
    maxWaitMs: undefined,
    waitForKey: false,
    roster: [],
    startTimeoutMs: undefined,
    maxReceivers: 16,
    retriesUntilDrop: 2,
    maxBitrateBps: undefined,
    helloIntervalMs: 1000,
    reqackIntervalMs: 20,
    endIntervalMs: 50,
    nakHoldMs: 12,
    windowPacketsMax: 4096,
    coder,
    ...over,
  });
}

/** `random` is fixed at 0.5 so every NAK backoff is an exact number. */
export function receiverConfig(over: Partial<ReceiverConfig> = {}): Readonly<ReceiverConfig> {
  return Object.freeze({
    receiverId: 0x101,
    rcvBufBytes: 1 << 20,
    startTimeoutMs: undefined,
    receiveTimeoutMs: 5000,
    joinIntervalMs: 30,
    statusIntervalMs: 100_000,
    heartbeatIntervalMs: 100_000,
    nakBackoffMs: 40,
    repairWaitMs: 50,
    reportIntervalMs: 30,
    reportTries: 3,
    maxQueuedSlices: 4,
    coder,
    random: () => 0.5,
    ...over,
  });
}

// ---- bytes --------------------------------------------------------------------------

/** Deterministic, position-dependent bytes (no two blocks of an image alike). */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8) * 7 + seed * 101) & 255;
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function encoded(size: number, encode: (buf: Uint8Array) => number): Uint8Array {
  const buf = new Uint8Array(size);
  return buf.subarray(0, encode(buf));
}

// ---- receiver → sender datagrams ------------------------------------------------------

export function joinBytes(o: {
  receiverId: number;
  rcvBufBytes?: number;
  caps?: number;
  sessionId?: number;
}): Uint8Array {
  return encoded(JOIN_SIZE, (b) =>
    encodeJoin(
      {
        sessionId: o.sessionId ?? SESSION,
        receiverId: o.receiverId,
        caps: o.caps ?? CAP_PARITY_REPAIR,
        rcvBufBytes: o.rcvBufBytes ?? 1000,
      },
      b,
    ),
  );
}

export function statusBytes(o: Partial<Status> & { receiverId: number }): Uint8Array {
  return encoded(64, (b) =>
    encodeStatus({ sessionId: SESSION, flags: 0, seenSeq: 0, deliveredSlices: 0, bytesWritten: 0, ...o }, b),
  );
}

export function nakBytes(o: Partial<Nak> & { receiverId: number; sliceNo: number; need: number[] }): Uint8Array {
  const msg: Nak = { sessionId: SESSION, heard: o.need.map(() => 0), ...o };
  return encoded(nakLength(msg), (b) => encodeNak(msg, b));
}

export function reportBytes(o: Partial<Report> & { receiverId: number }): Uint8Array {
  const msg: Report = {
    sessionId: SESSION,
    outcome: 0,
    reason: 0,
    bytesWritten: 0,
    digest: new Uint8Array(32),
    detail: '',
    ...o,
  };
  return encoded(reportLength(msg), (b) => encodeReport(msg, b));
}

export function leaveBytes(o: Partial<Leave> & { receiverId: number; reason: Reason }): Uint8Array {
  const msg: Leave = { sessionId: SESSION, detail: '', ...o };
  return encoded(leaveLength(msg), (b) => encodeLeave(msg, b));
}

// ---- sender → receiver datagrams ------------------------------------------------------

/** The HELLO the receiver tests use: 100-byte blocks, 4 a slice, 1 stripe, 950 bytes (400 + 400 + 150). */
export function helloBytes(over: Partial<Hello> = {}): Uint8Array {
  return encoded(HELLO_SIZE, (b) =>
    encodeHello(
      {
        sessionId: SESSION,
        caps: CAP_PARITY_REPAIR,
        blockBytes: 100,
        sliceBlocks: 4,
        stripes: 1,
        phase: 0,
        dataPort: DATA_PORT,
        dataGroup: ipv4ToU32(DATA_GROUP),
        imageBytes: 950,
        retainSlices: 4,
        redundancy: 0,
        ...over,
      },
      b,
    ),
  );
}

export function acceptBytes(receiverId: number, sessionId = SESSION, joinSlice = 0): Uint8Array {
  return encoded(ACCEPT_SIZE, (b) => encodeAccept({ sessionId, receiverId, joinSlice }, b));
}

export function startBytes(windowPackets: number, receivers = 1): Uint8Array {
  return encoded(12, (b) => encodeStart({ sessionId: SESSION, receivers, windowPackets }, b));
}

export function dataBytes(d: Omit<Data, 'sessionId'> & { sessionId?: number }): Uint8Array {
  const msg: Data = { sessionId: SESSION, ...d };
  return encoded(24 + d.payload.byteLength, (b) => encodeData(msg, b));
}

export function reqackBytes(o: Omit<Reqack, 'sessionId'>): Uint8Array {
  return encoded(20, (b) => encodeReqack({ sessionId: SESSION, ...o }, b));
}

export function endBytes(totalBytes: number, totalSlices: number, digest: Uint8Array): Uint8Array {
  return encoded(END_SIZE, (b) => encodeEnd({ sessionId: SESSION, totalBytes, totalSlices, digest }, b));
}

export function reportAckBytes(receiverId: number): Uint8Array {
  return encoded(12, (b) => encodeReportAck({ sessionId: SESSION, receiverId }, b));
}

export function dropBytes(receiverId: number, reason: Reason): Uint8Array {
  return encoded(16, (b) => encodeDrop({ sessionId: SESSION, receiverId, reason }, b));
}

// ---- decoding what a core sends -------------------------------------------------------

export function decode(bytes: Uint8Array): Message {
  const r = decodeDatagram(bytes);
  if (!r.ok) throw new Error(`core sent an undecodable datagram: ${r.code} ${r.detail}`);
  return r.value;
}

export interface SentBySender {
  readonly to: 'data' | 'control';
  readonly m: Message;
  readonly bytes: Uint8Array;
}

/** Every datagram the sender will send at `now`, decoded (the parts concatenated as dgram would). */
export function drainSender(core: SenderCore, now: number): SentBySender[] {
  const out: SentBySender[] = [];
  for (let t = core.pollTransmit(now); t !== undefined; t = core.pollTransmit(now)) {
    const bytes = concat(t.parts);
    if (bytes.byteLength !== t.bytes) throw new Error(`Transmit.bytes ${t.bytes} != ${bytes.byteLength}`);
    out.push({ to: t.to, m: decode(bytes), bytes });
  }
  return out;
}

export function drainReceiver(core: ReceiverCore): Message[] {
  const out: Message[] = [];
  for (let b = core.pollTransmit(); b !== undefined; b = core.pollTransmit()) out.push(decode(b));
  return out;
}

export function drainEvents<E>(core: { pollEvent(): E | undefined }): E[] {
  const out: E[] = [];
  for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) out.push(e);
  return out;
}


/** Message type names in order, for asserting exactly what went out. */
export function types(ms: readonly (Message | SentBySender)[]): string[] {
  return ms.map((x) => MESSAGE_TYPE_NAMES[('m' in x ? x.m : x).type]);
}

export type MsgOf<T extends MessageType> = Extract<Message, { readonly type: T }>['msg'];

/** The decoded messages of one type, in order. */
export function only<T extends MessageType>(ms: readonly (Message | SentBySender)[], type: T): MsgOf<T>[] {
  const out: unknown[] = [];
  for (const x of ms) {
    const m = 'm' in x ? x.m : x;
    if (m.type === type) out.push(m.msg);
  }
  return out as MsgOf<T>[];
}
