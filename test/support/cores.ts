// Fixtures for the core unit tests: configs with small, round numbers, and drains that
// decode what a core sends. The tests drive one core at a time with explicit `now` values:
// no sockets, no timers, no simulator. The datagrams to feed a core are built by
// ./datagrams.ts.

import { decodeDatagram, type Message } from '../../protocol/codec.js';
import { CauchyReedSolomon } from '../../protocol/fec/cauchy-rs.js';
import { MESSAGE_TYPE_NAMES, type MessageType } from '../../protocol/header.js';
import type { ReceiverConfig, ReceiverCore } from '../../receiver/core.js';
import type { SenderConfig, SenderCore } from '../../sender/core.js';
import { concat } from './bytes.js';
import { DATA_GROUP, DATA_PORT, SESSION } from './datagrams.js';

export const coder = new CauchyReedSolomon();

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
    catchUp: false,
    minRateBytesPerSec: undefined,
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
    maxReportingReceivers: 8,
    answerWindowMs: 4,
    heartbeatMs: 1000,
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

// ---- decoding what a core sends -------------------------------------------------------

export function decode(bytes: Uint8Array): Message {
  const r = decodeDatagram(bytes);
  if (!r.ok) throw new Error(`core sent an undecodable datagram: ${r.code} ${r.detail}`);
  return r.value;
}

export interface SentBySender {
  readonly to: 'data' | 'control' | { readonly address: string; readonly port: number };
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
  for (let t = core.pollTransmit(); t !== undefined; t = core.pollTransmit()) out.push(decode(t.bytes));
  return out;
}

export function drainEvents<E>(core: { pollEvent(): E | undefined }): E[] {
  const out: E[] = [];
  for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) out.push(e);
  return out;
}

/** Message type names in order, for asserting exactly what went out. */
export function types(ms: readonly (Message | SentBySender)[]): string[] {
  return ms.map((x) => MESSAGE_TYPE_NAMES[('m' in x ? x.m : x).type]!);
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
