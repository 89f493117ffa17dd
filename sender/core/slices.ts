// The image as the sender holds it: the slices taken from the source and not yet freed,
// the first pass over them (each slice's data blocks once, in order, then its proactive
// parity), the end of the source, and each slice's blocks as FEC input.
//
// What holds: slices baseSlice..nextSliceNo-1 are held, at most retainSlices of them
// (the core asks for a slice only below that); slices below baseSlice are held only as
// reloaded for late receivers (sender/core/reload.ts puts and evicts them). The first pass
// is at sendSliceNo, baseSlice <= sendSliceNo <= nextSliceNo; a slice below it was sent in
// full and takes NAKs. Only a short slice, or the one that reaches the announced size, is
// final until the end of the source marks the last one.
//
// A carousel (--async --carousel N) sends the image N times: once a pass is over and every
// slice of it freed, the next begins at slice 0 with the same end; its slices come from the
// source again (read at their offsets) and must have the sizes the end says.

import { blockPayloadBytes, blocksInSlice, fullSliceBytes, type Geometry, maxParity, sliceBytesOf, totalSlices } from '../../protocol/geometry.js';
import { startsCompressed } from '../../protocol/image-magic.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY } from '../../protocol/messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from '../../protocol/messages/hello.js';
import { AutoParity } from './auto-parity.js';
import type { SenderConfig } from './config.js';
import type { SenderStats } from './stats.js';
import type { ImageEnd, Transmit, Transmitter } from './transmit.js';

/** One stripe's repair state (sender/core/repair.ts reads and writes it). */
export interface StripeRepair {
  /** Next fresh parity index (wraps within maxParity(k)). */
  nextParity: number;
  /** First parity index of the current burst: a NAK that heard it comes after the burst. */
  burstStart: number;
  burstAtMs: number;
  burstCount: number;
  /** Parity symbols queued but not yet sent. */
  queued: number;
  /** Data blocks of the stripe still to send again (a receiver had none of them); supersedes parity. */
  resend: number;
  /** The stripe's next data block (by index within the stripe) to send again. */
  resendNext: number;
  /** The seq of the last repair DATA sent for the stripe (undefined: none yet). */
  lastSentSeq: number | undefined;
}

export interface TxSlice {
  readonly sliceNo: number;
  readonly bytes: Uint8Array;
  readonly nBlocks: number;
  /**
   * Proactive parity per (non-empty) stripe: the config's (--fec), or with automatic parity
   * what auto-parity.ts chose as the slice's first pass began (0 until then).
   */
  redundancy: number;
  /** The first pass: the data blocks, then `redundancy` parity per (non-empty) stripe. */
  firstPassCount: number;
  /** Not readonly: a full last slice of an image of unknown size learns it is final at EOF. */
  final: boolean;
  /** First-pass progress: datagrams of the first pass sent. */
  nextBlock: number;
  /** Per stripe; made on the slice's first NAK. */
  repairs: StripeRepair[] | undefined;
  /**
   * NAKs from receivers that heard the slice's first pass (the catch-up pass and late joiners
   * aside): what its proactive parity left to ask for (automatic parity's miss feedback).
   */
  naks: number;
  /** The stripe's data blocks, the short last one zero-padded; built on the first repair. */
  stripeData: Uint8Array[][] | undefined;
  /**
   * Per stripe, parity symbols encoded ahead of their turn (parity index -> bytes): a stripe's
   * symbols are encoded together, reading its k data blocks once (ErasureCoder.encodeParities),
   * and handed out one by one. At most max(k, redundancy) per stripe; dropped with the slice.
   */
  parityAhead: (Map<number, Uint8Array> | undefined)[] | undefined;
}

type SlicesConfig = Pick<SenderConfig, 'blockBytes' | 'sliceBlocks' | 'stripes' | 'imageBytes' | 'redundancy' | 'autoParity' | 'retainSlices' | 'coder'>;

export class SliceStore {
  readonly geo: Geometry;
  /** The rack's loss and the parity that follows it (read only with cfg.autoParity). */
  readonly autoParity: AutoParity;
  private readonly held = new Map<number, TxSlice>(); // bounded by cfg.retainSlices, plus as many reloaded (below baseSlice)
  private base = 0; // lowest slice still held (reloaded ones aside)
  private next = 0; // next slice the driver will give
  private send = 0; // slice in first pass
  private bytesIn = 0;
  private end: ImageEnd | undefined;
  private passNo = 1;
  private compressedImage = false;

  /** `receivers`: the session's receivers now, for the automatic parity (auto-parity.ts). */
  constructor(
    private readonly cfg: Readonly<SlicesConfig>,
    private readonly stats: SenderStats,
    receivers: () => number = () => 1,
  ) {
    this.autoParity = new AutoParity(receivers);
    this.geo = {
      blockBytes: cfg.blockBytes,
      sliceBlocks: cfg.sliceBlocks,
      stripes: cfg.stripes,
      imageBytes: cfg.imageBytes,
    };
  }

  get baseSlice(): number {
    return this.base;
  }

  get nextSliceNo(): number {
    return this.next;
  }

  get sendSliceNo(): number {
    return this.send;
  }

  /** Image bytes taken from the source so far (in the first pass: later passes read the same bytes). */
  get bytesRead(): number {
    return this.bytesIn;
  }

  /** The image's first bytes are a gzip or LZ4 stream's (known once slice 0 was taken). */
  get compressed(): boolean {
    return this.compressedImage;
  }

  /** The pass being sent: 1, or later in a carousel. */
  get pass(): number {
    return this.passNo;
  }

  /** The source is being read (again, in a later pass of a carousel): a slice is still to come. */
  wantsMore(): boolean {
    return this.end === undefined || (this.passNo > 1 && this.next < this.end.totalSlices);
  }

  /**
   * The next pass of a carousel: slice 0 on again. Only once this one is over and nothing
   * of it is held (an --async sender frees a slice once it is sent); else RangeError.
   */
  restartPass(): void {
    if (!this.firstPassDone() || this.held.size > 0) throw new RangeError('a pass starts only when the last is sent and freed');
    this.base = this.next = this.send = 0;
    this.passNo++;
  }

  /** The source ended: the digest and the image's size. */
  get eof(): ImageEnd | undefined {
    return this.end;
  }

  get size(): number {
    return this.held.size;
  }

  get(sliceNo: number): TxSlice | undefined {
    return this.held.get(sliceNo);
  }

  has(sliceNo: number): boolean {
    return this.held.has(sliceNo);
  }

  values(): IterableIterator<TxSlice> {
    return this.held.values();
  }

  /** retainSlices are held from baseSlice on: no more until the slowest receiver frees one. */
  windowFull(): boolean {
    return this.next - this.base >= this.cfg.retainSlices;
  }

  /** The next slice from the source; a slice of the wrong size or past the image throws RangeError. */
  take(bytes: Uint8Array): void {
    const full = fullSliceBytes(this.geo);
    if (bytes.byteLength === 0 || bytes.byteLength > full) throw new RangeError('slice size out of range');
    const last = this.held.get(this.next - 1);
    if (last !== undefined && last.bytes.byteLength < full) throw new RangeError('a short slice must be the last');
    if (this.end !== undefined) {
      // A later pass of a carousel: the image is known to the byte.
      const sliceNo = this.next;
      const want = sliceBytesOf(this.geo, this.end.totalBytes, sliceNo);
      if (sliceNo >= this.end.totalSlices || bytes.byteLength !== want) {
        throw new RangeError(`slice ${sliceNo} of pass ${this.passNo} has ${bytes.byteLength} bytes, not ${want}`);
      }
      this.next++;
      this.held.set(sliceNo, this.txSlice(sliceNo, bytes, sliceNo === this.end.totalSlices - 1, false));
      return;
    }
    const sliceNo = this.next++;
    if (sliceNo === 0) this.compressedImage = startsCompressed(bytes);
    this.bytesIn += bytes.byteLength;
    if (this.cfg.imageBytes !== IMAGE_BYTES_UNKNOWN && this.bytesIn > this.cfg.imageBytes) {
      throw new RangeError('source is longer than the announced image size');
    }
    const final = bytes.byteLength < full || (this.cfg.imageBytes !== IMAGE_BYTES_UNKNOWN && this.bytesIn === this.cfg.imageBytes);
    this.held.set(sliceNo, this.txSlice(sliceNo, bytes, final, false));
  }

  /** The source ended; `digest` is the SHA-256 of every byte taken. */
  takeEnd(digest: Uint8Array): void {
    this.end = {
      digest,
      totalBytes: this.bytesIn,
      totalSlices: this.next,
    };
    // Size unknown and the image a whole number of slices: the last slice was taken as an
    // ordinary full one. Its later DATA (repairs) must say it is final, or receivers, who
    // know the size from END by then, reject them ('DATA final flag') and never complete
    // it. Found by the fuzz harness (test/support/fuzz/).
    const last = this.held.get(this.next - 1);
    if (last !== undefined) last.final = true;
  }

  /** A head slice read again for a late receiver: held at once as sent in full. */
  putReloaded(sliceNo: number, bytes: Uint8Array): void {
    this.held.set(sliceNo, this.txSlice(sliceNo, bytes, sliceNo === totalSlices(this.geo, this.cfg.imageBytes) - 1, true));
  }

  /** Frees a reloaded slice (below baseSlice). */
  deleteReloaded(sliceNo: number): void {
    this.held.delete(sliceNo);
  }

  /** Frees the slices below min(deliveredSlices, sendSliceNo): everyone has them, and they were sent. */
  freeBelow(deliveredSlices: number): void {
    const upTo = Math.min(deliveredSlices, this.send);
    while (this.base < upTo) {
      const s = this.held.get(this.base);
      // Every receiver has it: whether its automatic parity was enough is settled.
      if (s !== undefined && this.cfg.autoParity === true && s.redundancy > 0) {
        this.autoParity.settled(s.naks, Math.min(this.cfg.stripes, s.nBlocks));
      }
      this.held.delete(this.base);
      this.base++;
    }
  }

  /** The first slice whose first pass has not begun: all of it is still to come. */
  lateJoinSlice(): number {
    const s = this.held.get(this.send);
    return s !== undefined && s.nextBlock > 0 ? this.send + 1 : this.send;
  }

  /** The first pass has a datagram to send now. */
  firstPassReady(): boolean {
    const s = this.held.get(this.send);
    return s !== undefined && s.nextBlock < s.firstPassCount;
  }

  /** Every slice was sent once and the source ended. */
  firstPassDone(): boolean {
    return this.end !== undefined && this.send >= this.end.totalSlices;
  }

  /**
   * The first pass's next datagram: the slice's data blocks, then its proactive parity
   * interleaved over the stripes (parity 0 of every stripe, then 1...). After the slice's
   * last one sendSliceNo moves on.
   */
  nextFirstPass(tx: Transmitter): Transmit | undefined {
    const s = this.held.get(this.send);
    if (s === undefined || s.nextBlock >= s.firstPassCount) return undefined;
    if (s.nextBlock === 0 && this.cfg.autoParity === true) this.chooseParity(s);
    const i = s.nextBlock++;
    let flags = s.final ? DATA_FLAG_FINAL_SLICE : 0;
    if (s.nextBlock === s.firstPassCount) {
      flags |= DATA_FLAG_LAST;
      this.send++;
    }
    if (i < s.nBlocks) return tx.data(s.sliceNo, s.bytes.byteLength, flags, 0, i, this.dataBlock(s, i));
    const usedStripes = Math.min(this.cfg.stripes, s.nBlocks);
    const stripe = (i - s.nBlocks) % usedStripes;
    const parityIndex = Math.floor((i - s.nBlocks) / usedStripes);
    // The stripe's proactive parity (indices 0..redundancy-1) is encoded at its first.
    const out = this.parity(s, stripe, parityIndex, s.redundancy - parityIndex);
    this.stats.proactiveParity++;
    return tx.data(s.sliceNo, s.bytes.byteLength, flags | DATA_FLAG_PARITY, stripe, parityIndex, out);
  }

  /**
   * Automatic parity: the slice's proactive parity from the rack's loss now, sized for its
   * largest stripe (stripes differ by one block at most). Reads nothing per receiver.
   */
  private chooseParity(s: TxSlice): void {
    const usedStripes = Math.min(this.cfg.stripes, s.nBlocks);
    s.redundancy = this.autoParity.parityFor(Math.ceil(s.nBlocks / usedStripes));
    s.firstPassCount = s.nBlocks + s.redundancy * usedStripes;
  }

  /** Data block `b` of the slice, as a view (the last one may be short). */
  dataBlock(s: TxSlice, b: number): Uint8Array {
    const off = b * this.cfg.blockBytes;
    return s.bytes.subarray(off, off + blockPayloadBytes(this.geo, s.bytes.byteLength, b));
  }

  /**
   * Parity symbol `parityIndex` of one stripe of the slice. `ahead` (>= 1): the caller will ask
   * for parityIndex + 1, + 2, ... (mod maxParity(k)) next, that many in all; they are encoded
   * with this one, in one pass over the stripe's data, and kept until asked for. Each symbol
   * is fresh memory, handed out once (the datagram owns it); the symbols of one pass share one
   * buffer (one allocation instead of n: a 1448-byte Uint8Array of its own costs about 1 us).
   */
  parity(s: TxSlice, stripe: number, parityIndex: number, ahead = 1): Uint8Array {
    const kept = s.parityAhead?.[stripe]?.get(parityIndex);
    if (kept !== undefined) {
      s.parityAhead![stripe]!.delete(parityIndex);
      return kept;
    }
    const data = this.stripeData(s)[stripe]!;
    const coder = this.cfg.coder;
    const n = Math.max(1, Math.min(ahead, maxParity(data.length)));
    if (n === 1 || coder.encodeParities === undefined) {
      const out = new Uint8Array(this.cfg.blockBytes);
      coder.encodeParity(data, parityIndex, out);
      return out;
    }
    const bb = this.cfg.blockBytes;
    const arena = new Uint8Array(n * bb);
    const indices: number[] = [];
    const outs: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      indices.push((parityIndex + i) % maxParity(data.length));
      outs.push(arena.subarray(i * bb, (i + 1) * bb));
    }
    coder.encodeParities(data, indices, outs);
    s.parityAhead ??= [];
    // What was kept before and not asked for belonged to a plan that changed: it goes.
    s.parityAhead[stripe] ??= new Map();
    const keep = s.parityAhead[stripe]!;
    keep.clear();
    for (let i = 1; i < n; i++) keep.set(indices[i]!, outs[i]!);
    return outs[0]!;
  }

  private stripeData(s: TxSlice): Uint8Array[][] {
    if (s.stripeData !== undefined) return s.stripeData;
    const bb = this.cfg.blockBytes;
    const out: Uint8Array[][] = Array.from({ length: this.cfg.stripes }, () => []);
    for (let b = 0; b < s.nBlocks; b++) {
      let block = s.bytes.subarray(b * bb, (b + 1) * bb);
      if (block.byteLength < bb) {
        const padded = new Uint8Array(bb);
        padded.set(block);
        block = padded;
      }
      out[b % this.cfg.stripes]!.push(block);
    }
    s.stripeData = out;
    return out;
  }

  /** A slice to hold: new from the source, or read again for a late receiver (its first pass long over). */
  private txSlice(sliceNo: number, bytes: Uint8Array, final: boolean, sent: boolean): TxSlice {
    const nBlocks = blocksInSlice(this.geo, bytes.byteLength);
    // Automatic parity: chosen when the first pass begins (a reloaded slice never has one).
    const redundancy = this.cfg.autoParity === true ? 0 : this.cfg.redundancy;
    const firstPassCount = nBlocks + redundancy * Math.min(this.cfg.stripes, nBlocks);
    return {
      sliceNo,
      bytes,
      nBlocks,
      redundancy,
      firstPassCount,
      final,
      // A slice sent in full takes NAKs at once.
      nextBlock: sent ? firstPassCount : 0,
      repairs: undefined,
      naks: 0,
      stripeData: undefined,
      parityAhead: undefined,
    };
  }
}
