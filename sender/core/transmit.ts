// Building what the sender core hands to the driver: DATA datagrams (a header from a
// preallocated ring plus a payload that is a view of the slice or fresh parity) and the
// queue of control datagrams: HELLO, START, REQACK, END and DROP to the rendezvous group,
// and what answers one receiver alone (ACCEPT, REPORT_ACK, CLONE_REPORT_ACK, a refused
// JOIN's DROP) to the endpoint its datagram came from, so no other receiver spends
// anything on it.
//
// What holds: every DATA carries the next sequence number, which counts 1, 2, ... and
// wraps past 0 (seq 0 is never sent), and sentCount counts every DATA sent (the n-th DATA
// sent carries seqOfCount(n)); the control queue holds at most MAX_CONTROL_QUEUE
// datagrams (more are counted in controlOverflows, not queued); REQACK ids count up from 1.
// It decides nothing: the core and its components say what to send, this says how.

import type { Endpoint } from '../../protocol/endpoint.js';
import {
  CAP_ASYNC,
  CAP_CATCH_UP,
  CAP_CLONE_REPORTS,
  CAP_IMAGE_COMPRESSED,
  CAP_MORE_PASSES,
  CAP_PARITY_REPAIR,
  CAP_STREAMING,
  ipv4ToU32,
} from '../../protocol/header.js';
import { ACCEPT_SIZE, encodeAccept } from '../../protocol/messages/accept.js';
import { CATCH_UP_SIZE, type CatchUpWhy, encodeCatchUp } from '../../protocol/messages/catch-up.js';
import { CLONE_REPORT_ACK_SIZE, encodeCloneReportAck } from '../../protocol/messages/clone-report-ack.js';
import { DATA_HEADER_SIZE, writeDataHeader } from '../../protocol/messages/data.js';
import { DROP_SIZE, encodeDrop } from '../../protocol/messages/drop.js';
import { END_SIZE, encodeEnd } from '../../protocol/messages/end.js';
import { encodeHello, HELLO_SIZE, HelloPhase } from '../../protocol/messages/hello.js';
import { encodeReportAck, REPORT_ACK_SIZE } from '../../protocol/messages/report-ack.js';
import { encodeReqack, REQACK_FLAG_QUIET, REQACK_SIZE } from '../../protocol/messages/reqack.js';
import { encodeStart, START_SIZE } from '../../protocol/messages/start.js';
import type { Reason } from '../../protocol/reasons.js';
import type { SenderConfig } from './config.js';
import type { SenderStats } from './stats.js';

/**
 * Where a datagram goes: the data group, the rendezvous group (every receiver's control
 * socket), or one receiver's endpoint (unicast).
 */
export interface Transmit {
  readonly to: 'data' | 'control' | Endpoint;
  readonly parts: readonly Uint8Array[];
  readonly bytes: number;
}

export const MAX_CONTROL_QUEUE = 4096;
/**
 * DATA headers are written into a ring, not allocated per datagram. A slot is reused
 * after HEADER_RING more DATA: the driver never has that many sends in flight (it waits
 * once 64 are queued in libuv, and sends at most 256 per turn).
 */
export const HEADER_RING = 4096;

/** Distinct DATA sequence numbers: 1 .. 2^32 - 1 (0 is never sent). */
const SEQ_SPAN = 0xffff_ffff;

/** The seq (an int32, as the core keeps seqs) of the n-th DATA sent, n >= 1. */
export function seqOfCount(n: number): number {
  return (1 + ((n - 1) % SEQ_SPAN)) | 0;
}

/** What END announces: the image as the source gave it. */
export interface ImageEnd {
  readonly digest: Uint8Array;
  readonly totalBytes: number;
  readonly totalSlices: number;
}

type TransmitConfig = Pick<
  SenderConfig,
  | 'sessionId'
  | 'async'
  | 'streaming'
  | 'catchUp'
  | 'blockBytes'
  | 'sliceBlocks'
  | 'stripes'
  | 'dataPort'
  | 'dataGroup'
  | 'imageBytes'
  | 'retainSlices'
  | 'redundancy'
  | 'cloneReportsMs'
>;

export class Transmitter {
  private readonly control: Transmit[] = []; // bounded by MAX_CONTROL_QUEUE
  private readonly headerRing = new Uint8Array(HEADER_RING * DATA_HEADER_SIZE);
  private readonly headerRingView = new DataView(this.headerRing.buffer);
  private headerRingNext = 0;
  private seq = 1;
  private sent = 0;
  private reqackId = 0;

  constructor(
    private readonly cfg: Readonly<TransmitConfig>,
    private readonly stats: SenderStats,
  ) {}

  /** The sequence number the next DATA gets (an int32, never 0). */
  get nextSeq(): number {
    return this.seq;
  }

  /** DATA sent so far: the last one sent is the sentCount-th. */
  get sentCount(): number {
    return this.sent;
  }

  /** The seq of the last DATA sent (0 before the first). */
  get lastSeq(): number {
    return this.sent === 0 ? 0 : seqOfCount(this.sent);
  }

  get controlQueued(): number {
    return this.control.length;
  }

  /** The oldest queued control datagram (counted as sent). */
  pollControl(): Transmit | undefined {
    const c = this.control.shift();
    if (c !== undefined) this.stats.controlPackets++;
    return c;
  }

  /** One DATA datagram of slice `sliceNo` (`sliceBytes` long), with the next sequence number. */
  data(sliceNo: number, sliceBytes: number, flags: number, stripe: number, blockNo: number, payload: Uint8Array): Transmit {
    const off = this.headerRingNext * DATA_HEADER_SIZE;
    this.headerRingNext = (this.headerRingNext + 1) % HEADER_RING;
    writeDataHeader(this.headerRingView, off, {
      sessionId: this.cfg.sessionId,
      seq: this.seq >>> 0,
      sliceNo,
      sliceBytes,
      flags,
      stripe,
      blockNo,
    });
    const header = this.headerRing.subarray(off, off + DATA_HEADER_SIZE);
    this.seq = (this.seq + 1) | 0;
    if (this.seq === 0) this.seq = 1;
    this.sent++;
    return { to: 'data', parts: [header, payload], bytes: DATA_HEADER_SIZE + payload.byteLength };
  }

  /**
   * `morePasses`: a carousel will send the image again after the pass under way;
   * `compressed`: the image's first bytes are a gzip or LZ4 stream's.
   */
  hello(announcing: boolean, morePasses: boolean, compressed: boolean): void {
    this.stats.hellos++;
    const caps =
      CAP_PARITY_REPAIR |
      (this.cfg.async ? CAP_ASYNC : 0) |
      (this.cfg.streaming ? CAP_STREAMING : 0) |
      (morePasses ? CAP_MORE_PASSES : 0) |
      (this.cfg.catchUp ? CAP_CATCH_UP : 0) |
      (compressed ? CAP_IMAGE_COMPRESSED : 0) |
      (this.cfg.cloneReportsMs !== undefined ? CAP_CLONE_REPORTS : 0);
    this.queue(HELLO_SIZE, (b) =>
      encodeHello(
        {
          sessionId: this.cfg.sessionId,
          caps,
          blockBytes: this.cfg.blockBytes,
          sliceBlocks: this.cfg.sliceBlocks,
          stripes: this.cfg.stripes,
          phase: announcing ? HelloPhase.Announcing : HelloPhase.Transferring,
          dataPort: this.cfg.dataPort,
          dataGroup: ipv4ToU32(this.cfg.dataGroup),
          imageBytes: this.cfg.imageBytes,
          retainSlices: this.cfg.retainSlices,
          redundancy: this.cfg.redundancy,
        },
        b,
      ),
    );
  }

  accept(receiverId: number, joinSlice: number, to: Endpoint): void {
    this.queue(ACCEPT_SIZE, (b) => encodeAccept({ sessionId: this.cfg.sessionId, receiverId, joinSlice }, b), to);
  }

  /** receiverId DROP_ALL: every receiver. To the rendezvous group, or to `to` alone (a refused JOIN). */
  drop(receiverId: number, reason: Reason, to: Endpoint | 'control' = 'control'): void {
    this.queue(DROP_SIZE, (b) => encodeDrop({ sessionId: this.cfg.sessionId, receiverId, reason }, b), to);
  }

  start(receivers: number, windowPackets: number): void {
    this.queue(START_SIZE, (b) => encodeStart({ sessionId: this.cfg.sessionId, receivers, windowPackets }, b));
  }

  /**
   * A REQACK with the next id (ids count from 1 and skip 0 when they wrap: 0 names no
   * REQACK); returns the id. `quiet`: a quiet session's probe (sender/core/probe.ts).
   */
  reqack(needSlices: number, needSeq: number, groupSize: number, quiet?: { readonly answerWindowMs: number; readonly heartbeatMs: number }): number {
    this.reqackId = (this.reqackId + 1) >>> 0 || 1;
    this.stats.reqacks++;
    const reqackId = this.reqackId;
    this.queue(REQACK_SIZE, (b) =>
      encodeReqack(
        {
          sessionId: this.cfg.sessionId,
          reqackId,
          needSlices,
          needSeq: needSeq >>> 0,
          flags: quiet === undefined ? 0 : REQACK_FLAG_QUIET,
          answerWindowMs: quiet === undefined ? 0 : Math.min(0xffff, quiet.answerWindowMs),
          groupSize,
          heartbeatMs: quiet === undefined ? 0 : quiet.heartbeatMs,
        },
        b,
      ),
    );
    return reqackId;
  }

  end(e: ImageEnd): void {
    this.stats.ends++;
    this.queue(END_SIZE, (b) => encodeEnd({ sessionId: this.cfg.sessionId, totalBytes: e.totalBytes, totalSlices: e.totalSlices, digest: e.digest }, b));
  }

  /**
   * Moves a receiver to the catch-up pass (rates in bytes per second, 0: none). To the
   * rendezvous group, as DROP: a change of who the rack waits for.
   */
  catchUp(receiverId: number, why: CatchUpWhy, rateBps: number, paceBps: number): void {
    const kB = (x: number): number => Math.min(0xffff_ffff, Math.round(x / 1000));
    this.queue(CATCH_UP_SIZE, (b) => encodeCatchUp({ sessionId: this.cfg.sessionId, receiverId, why, rateKBps: kB(rateBps), paceKBps: kB(paceBps) }, b));
  }

  reportAck(receiverId: number, to: Endpoint): void {
    this.queue(REPORT_ACK_SIZE, (b) => encodeReportAck({ sessionId: this.cfg.sessionId, receiverId }, b), to);
  }

  /** To the agent's own socket: it listens there (and on the group) for the acknowledgement. */
  cloneReportAck(receiverId: number, to: Endpoint): void {
    this.queue(CLONE_REPORT_ACK_SIZE, (b) => encodeCloneReportAck({ sessionId: this.cfg.sessionId, receiverId }, b), to);
  }

  private queue(size: number, encode: (buf: Uint8Array) => number, to: Endpoint | 'control' = 'control'): void {
    if (this.control.length >= MAX_CONTROL_QUEUE) {
      this.stats.controlOverflows++;
      return;
    }
    const buf = new Uint8Array(size);
    const n = encode(buf);
    this.control.push({ to, parts: [buf.subarray(0, n)], bytes: n });
  }
}
