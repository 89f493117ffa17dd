// A model of Debian's udp-receiver (udpcast 20120424: udpr-negotiate.c, receivedata.c) for
// the simulator: what it answers and when it gives up, as docs/udpcast-wire.md describes and
// the real binary was seen to do. It keeps a ring of 4 slices, answers REQACK with OK or
// RETRANSMIT unless its readySet bit is set, counts FEC blocks only while a stripe misses
// more data than it holds parity for, rebuilds stripes with protocol/udpcast/fec-code.ts,
// exits "Dropped by server" at a slice more than two past its last complete one, reads
// only the socket of its first data-phase datagram, and after the end REQACK hears only
// unicast (its select(maxFd) bug) for a linger, then sends DISCONNECT.

import { decodeUdpcastDatagram } from '../../../protocol/udpcast/codec.js';
import { CONNECT_REQ_SIZE, encodeConnectReq } from '../../../protocol/udpcast/connect-req.js';
import { encodeDisconnect } from '../../../protocol/udpcast/disconnect.js';
import { decodeUdpcastStripe, stripeBlockCount, stripeBlockNo } from '../../../protocol/udpcast/fec-code.js';
import { encodeOk, OK_SIZE } from '../../../protocol/udpcast/ok.js';
import { encodeRetransmit, RETRANSMIT_SIZE } from '../../../protocol/udpcast/retransmit.js';
import { BITMAP_BYTES, bitIsSet, MAX_SLICE_BLOCKS, setBit } from '../../../protocol/udpcast/wire.js';

const RING_SLICES = 4;
const LINGER_MS = 500;

interface RxSlice {
  readonly sliceNo: number;
  bytes: number;
  bytesKnown: boolean;
  readonly have: Uint8Array;
  readonly blocks: (Uint8Array | undefined)[];
  dataCount: number;
  fecStripes: number;
  missing: number[];
  /** Useful FEC blocks held per stripe: row and payload. */
  fec: { row: number; fecBlockNo: number; bytes: Uint8Array }[][];
  done: boolean;
}

/** How a datagram reached the receiver: the rendezvous address, the data group, or its own address. */
export type Via = 'rendezvous' | 'group' | 'unicast';

export interface ModelOutput {
  readonly to: 'rendezvous' | 'sender';
  readonly bytes: Uint8Array;
}

export class StockReceiverModel {
  clNr = -1;
  blockBytes = 0;
  private server: string | undefined;
  private selected: Via | undefined;
  private readonly ring: RxSlice[] = [];
  private currentSliceNo = -1;
  private receivedSliceNo = -1;
  private readonly written: Uint8Array[] = [];
  private netEnd = false;
  private lingerUntilMs: number | undefined;
  exited: string | undefined;
  readonly out: ModelOutput[] = [];
  stats = { unexpected: 0, oks: 0, retransmits: 0, fecUsed: 0, fecIgnored: 0, rogue: 0, deafDrops: 0 };

  constructor(readonly address: string) {}

  start(): void {
    this.sendConnectReq('rendezvous');
  }

  private sendConnectReq(to: 'rendezvous' | 'sender'): void {
    const b = new Uint8Array(CONNECT_REQ_SIZE);
    encodeConnectReq({ capabilities: 9, rcvbufBytes: 212992 }, b);
    this.out.push({ to, bytes: b });
  }

  get image(): Uint8Array {
    const n = this.written.reduce((a, b) => a + b.byteLength, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const w of this.written) {
      out.set(w, o);
      o += w.byteLength;
    }
    return out;
  }

  get finished(): boolean {
    return this.exited !== undefined;
  }

  /** Time-driven: the end linger. */
  tick(nowMs: number): void {
    if (this.exited === undefined && this.lingerUntilMs !== undefined && nowMs >= this.lingerUntilMs) this.exit('complete', true);
  }

  nextTimeoutMs(): number | undefined {
    return this.exited === undefined ? this.lingerUntilMs : undefined;
  }

  private exit(why: string, disconnect: boolean): void {
    this.exited = why;
    if (disconnect && this.server !== undefined) {
      const b = new Uint8Array(4);
      encodeDisconnect({}, b);
      this.out.push({ to: 'sender', bytes: b });
    }
  }

  receive(from: string, via: Via, bytes: Uint8Array, nowMs: number): void {
    if (this.exited !== undefined) return;
    if (this.server === undefined) {
      // Its sockets before CONNECT_REPLY: its own address, broadcast and the rendezvous group.
      if (via !== 'group') this.negotiate(from, bytes);
      return;
    }
    if (via === 'rendezvous') return;
    // Only the selected socket is read; after the end only unicast (select(maxFd) misses the group socket).
    if (this.netEnd ? via !== 'unicast' : this.selected !== undefined && via !== this.selected) {
      this.stats.deafDrops++;
      return;
    }
    if (from !== this.server) {
      this.stats.rogue++;
      return;
    }
    const r = decodeUdpcastDatagram(bytes, this.blockBytes);
    if (!r.ok) throw new Error(`stock receiver model: undecodable datagram from the sender: ${r.code} ${r.detail}`);
    const m = r.value;
    if (m.kind === 'hello') return;
    if (m.kind === 'connect-reply') {
      // udp-receiver prints "Unexpected opcode" and reads on.
      this.stats.unexpected++;
      return;
    }
    if (m.kind !== 'data' && m.kind !== 'fec' && m.kind !== 'reqack') throw new Error(`stock receiver model: unexpected ${m.kind}`);
    this.selected ??= via;
    if (this.lingerUntilMs !== undefined) this.lingerUntilMs = nowMs + LINGER_MS;
    const slice = this.findSlice(m.msg.sliceNo);
    if (this.exited !== undefined) return;
    if (m.kind === 'data') this.onData(slice, m.msg.blockNo, m.msg.sliceBytes, m.msg.payload);
    else if (m.kind === 'fec') this.onFec(slice, m.msg.stripes, m.msg.fecBlockNo, m.msg.sliceBytes, m.msg.parity);
    else this.onReqack(slice, m.msg.sliceNo, m.msg.sliceBytes, m.msg.rxmit, m.msg.readySet, nowMs);
  }

  private negotiate(from: string, bytes: Uint8Array): void {
    const r = decodeUdpcastDatagram(bytes, 1);
    if (!r.ok) return;
    if (r.value.kind === 'hello') {
      this.sendConnectReq('sender');
      return;
    }
    if (r.value.kind === 'connect-reply') {
      if (r.value.msg.clNr < 0) {
        this.exit('too many clients', false);
        return;
      }
      this.clNr = r.value.msg.clNr;
      this.blockBytes = r.value.msg.blockBytes;
      this.server = from;
      return;
    }
    if (r.value.kind === 'reqack') this.exit('bad server reply (REQACK before CONNECT_REPLY)', false);
  }

  private findSlice(sliceNo: number): RxSlice | undefined {
    if (sliceNo <= this.currentSliceNo) return this.ring.find((s) => s.sliceNo === sliceNo);
    // receivedata.c findSlice(): any slice but the next one, or one more than two past the
    // last complete one, is fatal.
    if (sliceNo > this.receivedSliceNo + 2 || sliceNo !== this.currentSliceNo + 1) {
      this.exit(`Dropped by server now=${sliceNo} last=${this.receivedSliceNo}`, true);
      return undefined;
    }
    let s: RxSlice | undefined;
    while (this.currentSliceNo < sliceNo) {
      this.currentSliceNo++;
      s = {
        sliceNo: this.currentSliceNo,
        bytes: 0,
        bytesKnown: false,
        have: new Uint8Array(BITMAP_BYTES),
        blocks: [],
        dataCount: 0,
        fecStripes: 0,
        missing: [],
        fec: [],
        done: false,
      };
      this.ring.push(s);
      if (this.ring.length > RING_SLICES) {
        const old = this.ring.shift()!;
        if (!old.done) throw new Error(`stock receiver model: ring overran an incomplete slice ${old.sliceNo}`);
      }
    }
    return s;
  }

  private setBytes(s: RxSlice, bytes: number): void {
    if (s.bytesKnown && s.bytes !== bytes) this.exit(`Byte number mismatch ${bytes} <-> ${s.bytes}`, true);
    if (!s.bytesKnown) {
      s.bytesKnown = true;
      s.bytes = bytes;
      if (bytes === 0) this.netEnd = true;
    }
  }

  private nBlocks(s: RxSlice): number {
    return Math.ceil(s.bytes / this.blockBytes);
  }

  private held(s: RxSlice): number {
    return s.dataCount + s.fec.reduce((a, f) => a + f.length, 0);
  }

  private onData(s: RxSlice | undefined, blockNo: number, sliceBytes: number, payload: Uint8Array): void {
    if (s === undefined || s.done) return;
    if (blockNo >= MAX_SLICE_BLOCKS) throw new Error('blockNo >= 1024 reached a stock receiver');
    if (bitIsSet(s.have, blockNo)) return;
    this.setBytes(s, sliceBytes);
    if (this.exited !== undefined) return;
    const b = new Uint8Array(this.blockBytes);
    b.set(payload);
    s.blocks[blockNo] = b;
    setBit(s.have, blockNo);
    s.dataCount++;
    if (s.fecStripes > 0) {
      const stripe = blockNo % s.fecStripes;
      s.missing[stripe]!--;
      if (s.missing[stripe]! < s.fec[stripe]!.length) s.fec[stripe]!.pop();
    }
    this.checkComplete(s);
  }

  private onFec(s: RxSlice | undefined, stripes: number, fecBlockNo: number, sliceBytes: number, parity: Uint8Array): void {
    if (s === undefined || s.done) return;
    this.setBytes(s, sliceBytes);
    if (this.exited !== undefined) return;
    if (s.fecStripes === 0) {
      s.fecStripes = stripes;
      s.missing = new Array(stripes).fill(0);
      s.fec = Array.from({ length: stripes }, () => []);
      for (let i = 0; i < this.nBlocks(s); i++) if (!bitIsSet(s.have, i)) s.missing[i % stripes]!++;
    } else if (s.fecStripes !== stripes) {
      this.stats.fecIgnored++;
      return;
    }
    const stripe = fecBlockNo % stripes;
    if (s.missing[stripe]! <= s.fec[stripe]!.length || s.fec[stripe]!.some((f) => f.fecBlockNo === fecBlockNo)) {
      this.stats.fecIgnored++;
      return;
    }
    s.fec[stripe]!.push({ row: Math.floor(fecBlockNo / stripes), fecBlockNo, bytes: parity.slice() });
    this.stats.fecUsed++;
    this.checkComplete(s);
  }

  private onReqack(s: RxSlice | undefined, sliceNo: number, sliceBytes: number, rxmit: number, readySet: Uint8Array, nowMs: number): void {
    if (this.clNr >= 0 && bitIsSet(readySet, this.clNr)) return;
    if (s === undefined) {
      this.answerOk(sliceNo);
      return;
    }
    this.setBytes(s, sliceBytes);
    if (this.exited !== undefined) return;
    if (this.held(s) === this.nBlocks(s)) this.answerOk(sliceNo);
    else {
      const b = new Uint8Array(RETRANSMIT_SIZE);
      encodeRetransmit({ sliceNo, rxmit, haveMap: s.have }, b);
      this.out.push({ to: 'sender', bytes: b });
      this.stats.retransmits++;
    }
    this.checkComplete(s);
    if (s.bytes === 0 && s.done && this.lingerUntilMs === undefined) this.lingerUntilMs = nowMs + LINGER_MS;
  }

  private answerOk(sliceNo: number): void {
    const b = new Uint8Array(OK_SIZE);
    encodeOk({ sliceNo }, b);
    this.out.push({ to: 'sender', bytes: b });
    this.stats.oks++;
  }

  private checkComplete(s: RxSlice): void {
    if (s.done || !s.bytesKnown || this.held(s) !== this.nBlocks(s)) return;
    const n = this.nBlocks(s);
    if (s.fecStripes > 0) {
      for (let stripe = 0; stripe < s.fecStripes; stripe++) {
        const k = stripeBlockCount(n, s.fecStripes, stripe);
        const erased: number[] = [];
        const blocks: Uint8Array[] = [];
        for (let j = 0; j < k; j++) {
          const b = stripeBlockNo(s.fecStripes, stripe, j);
          if (!bitIsSet(s.have, b)) erased.push(j);
          blocks.push(s.blocks[b] ?? new Uint8Array(this.blockBytes));
        }
        if (erased.length === 0) continue;
        decodeUdpcastStripe(
          blocks,
          erased,
          s.fec[stripe]!.map((f) => ({ row: f.row, bytes: f.bytes })),
          this.blockBytes,
        );
        for (const j of erased) s.blocks[stripeBlockNo(s.fecStripes, stripe, j)] = blocks[j];
      }
    }
    s.done = true;
    // Slices are written in order.
    while (true) {
      const next = this.ring.find((x) => x.sliceNo === this.receivedSliceNo + 1);
      if (next === undefined || !next.done) break;
      this.receivedSliceNo++;
      const data = new Uint8Array(next.bytes);
      for (let i = 0; i < this.nBlocks(next); i++)
        data.set(next.blocks[i]!.subarray(0, Math.min(this.blockBytes, next.bytes - i * this.blockBytes)), i * this.blockBytes);
      this.written.push(data);
    }
  }
}
