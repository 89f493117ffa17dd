// DATA placement: the receiver's data blocks go straight from the socket into the memory of
// the slice they belong to, and the receiver core gets one 4-word record per DATA instead of a
// datagram to decode and copy.
//
// The core stays the one that decides: it opens a slice (`open`, with the memory it will
// use) when it starts holding it, closes it when the slice is complete or dropped, and tells
// the table the next slice it will deliver (`setBase`). The table is a Uint32Array shared with
// the native addon (layout: native/udp-io.h, "DATA placement"; the word indices are in
// native/udp-addon.ts), and the memory is one pool of slots, one per slice the receiver can
// hold at once (retained + queued for the sink), reused as the sink writes them
// (`release`), so no slice costs a fresh allocation and its page faults. A slot holds the
// slice's bytes, the core's byte per block ("have it": RxSlice.haveBlock) and the placer's
// ("placed it"): a block the core has or one placed already is handed on as a datagram, so
// the first copy of a block stays, as when the core takes datagrams itself.
//
// A socket that places (common/udp/native.ts in C++, common/udp/dgram.ts and
// common/auth/sealed-socket.ts through `TsPlacer` below) copies the payload of a DATA
// datagram into its slice when, and only when, the core would take it there: the datagram
// passes decodeData's checks and checkDataAgainstSession's, comes from the session's sender,
// is a data block (not parity) of an open slice of that size, and its FINAL_SLICE flag is one
// the core accepts for the slice (`finalMask`). Everything else is handed on as a datagram.
// The record keeps the arrival order with those datagrams, and the core runs every check
// again on it (receiver/core.ts, 'placed'), so its counters are the same either way
// (test/unit/receiver/placement.test.ts runs both paths on the same input).
//
// `placeDatagram` is the TS reference of the addon's PlaceDatagram; the differential test
// (test/unit/native/udp-placement.test.ts) feeds both the same bytes.

import {
  ENTRY_FINAL_MASK,
  ENTRY_HAVE_OFFSET,
  ENTRY_OPEN,
  ENTRY_POOL_OFFSET,
  ENTRY_SLICE_BYTES,
  ENTRY_SLICE_NO,
  PLACE_BASE,
  PLACE_BLOCK_BYTES,
  PLACE_DATA_HEAD,
  PLACE_ENABLED,
  PLACE_ENTRY_COUNT,
  PLACE_ENTRY_WORDS,
  PLACE_HEADER_WORDS,
  PLACE_SENDER_IP,
  PLACE_SESSION,
  PLACE_WINDOW,
  PLACED_MARK,
} from '../../native/udp-addon.js';
import { MAGIC, MessageType, OFF_SESSION, VERSION } from '../../protocol/header.js';
import { parseIpv4 } from '../../protocol/ipv4.js';
import {
  DATA_FLAG_FINAL_SLICE,
  DATA_FLAG_PARITY,
  DATA_FLAGS_KNOWN,
  DATA_HEADER_SIZE,
  DATA_OFF_BLOCK_NO,
  DATA_OFF_FLAGS,
  DATA_OFF_SEQ,
  DATA_OFF_SLICE_BYTES,
  DATA_OFF_SLICE_NO,
  DATA_OFF_STRIPE,
} from '../../protocol/messages/data.js';

export { FINAL_MASK_CLEAR, FINAL_MASK_SET, PLACED_MARK } from '../../native/udp-addon.js';

/** Words per record: [seq, PLACED_MARK | sliceBytes, sliceNo, blockNo | flags << 16]. */
export const RECORD_WORDS = 4;
export const RECORD_SEQ = 0;
export const RECORD_MARK_SLICE_BYTES = 1;
export const RECORD_SLICE_NO = 2;
export const RECORD_BLOCK_FLAGS = 3;

/**
 * Runs of placed DATA: records[first * RECORD_WORDS ...], `count` of them. The array is the
 * socket's and is reused after the call: read it during the call only.
 */
export type PlacedHandler = (records: Uint32Array, first: number, count: number) => void;

/** What the receiver core tells its slice memory when a session begins (receiver/core/slice.ts SliceMemory). */
export interface SliceShape {
  readonly sessionId: number;
  readonly senderAddress: string;
  readonly blockBytes: number;
  /** Bytes of a full slice: one pool slot. */
  readonly fullSliceBytes: number;
  /** Slices the sender retains: at most this many are held (open) at once. */
  readonly retainSlices: number;
  /** Delivered slices the sink may not have written yet. */
  readonly queuedSlices: number;
}

/** What placeDatagram did: Placed, Raw (not placed), RawStop (not placed; its slice may be one the core opens now). */
export const PlaceResult = { Placed: 0, Raw: 1, RawStop: 2 } as const;
export type PlaceResult = (typeof PlaceResult)[keyof typeof PlaceResult];

/** The first 4 bytes of every DATA datagram as a big-endian u32 (magic, version, type). */
export const DATA_HEAD_WORD = ((MAGIC << 16) | (VERSION << 8) | MessageType.Data) >>> 0;

export interface PlacementStats {
  /** Pool slots (0 until a session began). */
  slots: number;
  /** Slices given memory outside the pool (pool full, or too big), and so never placed into. */
  unpooled: number;
  /** Slices whose table entry was taken by another open slice (placed into: never). */
  collisions: number;
}

/** Most pool bytes a table allocates; a session asking more gets heap memory and no placement. */
export const MAX_POOL_BYTES = 2 ** 31;

/** A slice's memory: its bytes, and the core's byte per block (nonzero: it has the block). */
export interface SliceBuffers {
  readonly bytes: Uint8Array;
  readonly have: Uint8Array;
}

/**
 * The receiver's slice memory with placement: the shared table and the pool. It is the core's
 * SliceMemory (receiver/core/slice.ts) and the driver's: the driver hands it to the data
 * socket (setPlacement) and calls `release` once the sink has written a delivered slice.
 */
export class PlacementTable {
  readonly stats: PlacementStats = { slots: 0, unpooled: 0, collisions: 0 };
  #words = new Uint32Array(PLACE_HEADER_WORDS);
  #pool = new Uint8Array(0);
  /** Bytes of a slice in a slot, and from one slot to the next (bytes, then 2 bytes per block, aligned). */
  #slotBytes = 0;
  #slotStride = 0;
  // Both bounded by the slot count.
  readonly #free: number[] = [];
  #inUse = new Uint8Array(0);
  #senderAddress = '';

  /** The table the socket reads (header and entries); valid once `begin` ran. */
  get words(): Uint32Array {
    return this.#words;
  }

  get pool(): Uint8Array {
    return this.#pool;
  }

  get senderAddress(): string {
    return this.#senderAddress;
  }

  /** True once a session began and placement is on. */
  get enabled(): boolean {
    return this.#words[PLACE_ENABLED] === 1;
  }

  /** Slots free now (tests check that every slice comes back). */
  get freeSlots(): number {
    return this.#free.length;
  }

  begin(shape: SliceShape): void {
    if (this.#words[PLACE_ENABLED] === 1) throw new TypeError('PlacementTable.begin: a session already began');
    const senderIp = parseIpv4(shape.senderAddress);
    const slots = shape.retainSlices + shape.queuedSlices + 1;
    const maxBlocks = Math.ceil(shape.fullSliceBytes / Math.max(1, shape.blockBytes));
    const stride = Math.ceil((shape.fullSliceBytes + 2 * maxBlocks) / 64) * 64;
    const poolBytes = slots * stride;
    let entries = 1;
    while (entries < shape.retainSlices) entries *= 2;
    const words = new Uint32Array(PLACE_HEADER_WORDS + entries * PLACE_ENTRY_WORDS);
    words[PLACE_SESSION] = shape.sessionId >>> 0;
    words[PLACE_SENDER_IP] = senderIp ?? 0;
    words[PLACE_BLOCK_BYTES] = shape.blockBytes;
    words[PLACE_WINDOW] = shape.retainSlices;
    words[PLACE_ENTRY_COUNT] = entries;
    words[PLACE_DATA_HEAD] = DATA_HEAD_WORD;
    this.#words = words;
    this.#senderAddress = shape.senderAddress;
    if (senderIp === undefined || poolBytes >= MAX_POOL_BYTES || shape.fullSliceBytes <= 0) return; // heap memory, no placement
    let pool: Uint8Array<ArrayBuffer>;
    try {
      pool = new Uint8Array(poolBytes);
    } catch {
      return; // no memory for it: the core still runs, on heap memory
    }
    this.#pool = pool;
    this.#slotBytes = shape.fullSliceBytes;
    this.#slotStride = stride;
    this.#inUse = new Uint8Array(slots);
    // Popped from the end: slot 0 first, and the slots written last are reused first (warm pages).
    for (let i = slots - 1; i >= 0; i--) this.#free.push(i);
    this.stats.slots = slots;
    words[PLACE_ENABLED] = 1;
  }

  /**
   * Memory for slice `sliceNo` of `sliceBytes` bytes in `nBlocks` blocks (their "have" bytes
   * zero); from now on DATA of it whose FINAL_SLICE flag `finalMask` allows may be placed in it
   * (FINAL_MASK_CLEAR | FINAL_MASK_SET).
   */
  open(sliceNo: number, sliceBytes: number, nBlocks: number, finalMask: number): SliceBuffers {
    const fits = sliceBytes <= this.#slotBytes && this.#slotBytes + 2 * nBlocks <= this.#slotStride;
    const slot = fits ? this.#free.pop() : undefined;
    if (slot === undefined) {
      this.stats.unpooled++;
      return { bytes: new Uint8Array(sliceBytes), have: new Uint8Array(nBlocks) };
    }
    this.#inUse[slot] = 1;
    const at = slot * this.#slotStride;
    const haveAt = at + this.#slotBytes;
    const bytes = this.#pool.subarray(at, at + sliceBytes);
    const have = this.#pool.subarray(haveAt, haveAt + nBlocks);
    this.#pool.fill(0, haveAt, haveAt + 2 * nBlocks); // have, placed
    const w = this.#words;
    const e = PLACE_HEADER_WORDS + (sliceNo & (w[PLACE_ENTRY_COUNT]! - 1)) * PLACE_ENTRY_WORDS;
    if (w[e + ENTRY_OPEN] === 1 && w[e + ENTRY_SLICE_NO] !== sliceNo >>> 0) {
      // Another open slice has the entry (slices held span at most retainSlices, so only a
      // core out of step could do this): this one is taken the ordinary way.
      this.stats.collisions++;
      return { bytes, have };
    }
    w[e + ENTRY_OPEN] = 0;
    w[e + ENTRY_SLICE_NO] = sliceNo >>> 0;
    w[e + ENTRY_SLICE_BYTES] = sliceBytes;
    w[e + ENTRY_POOL_OFFSET] = at;
    w[e + ENTRY_FINAL_MASK] = finalMask;
    w[e + ENTRY_HAVE_OFFSET] = haveAt;
    w[e + ENTRY_OPEN] = 1;
    return { bytes, have };
  }

  /** Nothing more is placed in slice `sliceNo` (complete, or dropped); `free`: its memory is free now (dropped undelivered). */
  close(sliceNo: number, buf: Uint8Array, free: boolean): void {
    const w = this.#words;
    if (w[PLACE_ENTRY_COUNT]! > 0) {
      const e = PLACE_HEADER_WORDS + (sliceNo & (w[PLACE_ENTRY_COUNT]! - 1)) * PLACE_ENTRY_WORDS;
      const ours = buf.buffer === this.#pool.buffer && w[e + ENTRY_POOL_OFFSET] === buf.byteOffset - this.#pool.byteOffset;
      if (ours && w[e + ENTRY_SLICE_NO] === sliceNo >>> 0) {
        w[e + ENTRY_OPEN] = 0;
      }
    }
    if (free) this.release(buf);
  }

  /** The core delivers slice `next` next: a DATA of an unopened slice in [next, next + retain) stops a placing batch. */
  setBase(next: number): void {
    this.#words[PLACE_BASE] = next >>> 0;
  }

  /** A delivered slice's memory is no longer needed (the sink wrote it): its slot is reused. */
  release(buf: Uint8Array): void {
    if (buf.buffer !== this.#pool.buffer || this.#slotBytes === 0) return; // heap memory: the GC takes it
    const slot = (buf.byteOffset - this.#pool.byteOffset) / this.#slotStride;
    if (!Number.isInteger(slot) || this.#inUse[slot] !== 1) throw new RangeError('PlacementTable.release: not a slice of this pool, or released twice');
    this.#inUse[slot] = 0;
    this.#free.push(slot);
  }
}

function be32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * The TS reference of the addon's PlaceDatagram (native/udp-io.cc): places `bytes` (from
 * `srcIp`, host-order u32) if it is a DATA block the table takes, writing the record at
 * rec[at..at+4). Same checks, in the same order, same results.
 */
export function placeDatagram(words: Uint32Array, pool: Uint8Array, bytes: Uint8Array, srcIp: number, rec: Uint32Array, at: number): PlaceResult {
  if (words.length < PLACE_HEADER_WORDS || words[PLACE_ENABLED] !== 1) return PlaceResult.Raw;
  const len = bytes.byteLength;
  if (len <= DATA_HEADER_SIZE || be32(bytes, 0) !== words[PLACE_DATA_HEAD]) return PlaceResult.Raw;
  if (be32(bytes, OFF_SESSION) !== words[PLACE_SESSION] || srcIp >>> 0 !== words[PLACE_SENDER_IP]) return PlaceResult.Raw;
  const flags = bytes[DATA_OFF_FLAGS]!;
  const sliceBytes = be32(bytes, DATA_OFF_SLICE_BYTES);
  if ((flags & ~DATA_FLAGS_KNOWN) !== 0 || sliceBytes === 0 || sliceBytes >= PLACED_MARK || bytes[DATA_OFF_STRIPE] !== 0) return PlaceResult.Raw;
  const sliceNo = be32(bytes, DATA_OFF_SLICE_NO);
  const entries = words[PLACE_ENTRY_COUNT]!;
  if (entries === 0 || (entries & (entries - 1)) !== 0 || Math.floor((words.length - PLACE_HEADER_WORDS) / PLACE_ENTRY_WORDS) < entries) {
    return PlaceResult.Raw;
  }
  const e = PLACE_HEADER_WORDS + ((sliceNo & (entries - 1)) >>> 0) * PLACE_ENTRY_WORDS;
  if (words[e + ENTRY_OPEN] !== 1 || words[e + ENTRY_SLICE_NO] !== sliceNo) {
    return (sliceNo - words[PLACE_BASE]!) >>> 0 < words[PLACE_WINDOW]! ? PlaceResult.RawStop : PlaceResult.Raw;
  }
  if ((flags & DATA_FLAG_PARITY) !== 0) return PlaceResult.Raw;
  if (sliceBytes !== words[e + ENTRY_SLICE_BYTES]) return PlaceResult.Raw;
  if ((words[e + ENTRY_FINAL_MASK]! & ((flags & DATA_FLAG_FINAL_SLICE) !== 0 ? 2 : 1)) === 0) return PlaceResult.Raw;
  const blockBytes = words[PLACE_BLOCK_BYTES]!;
  if (blockBytes === 0) return PlaceResult.Raw;
  const blockNo = (bytes[DATA_OFF_BLOCK_NO]! << 8) | bytes[DATA_OFF_BLOCK_NO + 1]!;
  const off = blockNo * blockBytes;
  if (off >= sliceBytes) return PlaceResult.Raw;
  const payload = Math.min(blockBytes, sliceBytes - off);
  if (len - DATA_HEADER_SIZE !== payload) return PlaceResult.Raw;
  const slot = words[e + ENTRY_POOL_OFFSET]!;
  if (slot + sliceBytes > pool.byteLength) return PlaceResult.Raw;
  const nBlocks = Math.ceil(sliceBytes / blockBytes);
  const have = words[e + ENTRY_HAVE_OFFSET]!;
  if (have + 2 * nBlocks > pool.byteLength) return PlaceResult.Raw;
  if (pool[have + blockNo] !== 0 || pool[have + nBlocks + blockNo] !== 0) return PlaceResult.Raw;
  pool[have + nBlocks + blockNo] = 1;
  pool.set(bytes.subarray(DATA_HEADER_SIZE), slot + off);
  rec[at + RECORD_SEQ] = be32(bytes, DATA_OFF_SEQ);
  rec[at + RECORD_MARK_SLICE_BYTES] = (PLACED_MARK | sliceBytes) >>> 0;
  rec[at + RECORD_SLICE_NO] = sliceNo;
  rec[at + RECORD_BLOCK_FLAGS] = (blockNo | (flags << 16)) >>> 0;
  return PlaceResult.Placed;
}

/**
 * Placement in TypeScript for the sockets that see one datagram at a time (dgram, and a
 * sealed socket after it opened the datagram): `offer` places a datagram and hands its record
 * on, or says it was not placed (the caller hands on the datagram).
 */
export class TsPlacer {
  readonly #rec = new Uint32Array(RECORD_WORDS);
  #lastAddress = '';
  #lastIp = -1;
  /** DATA datagrams placed. */
  placed = 0;

  constructor(
    private readonly table: PlacementTable,
    private readonly onPlaced: PlacedHandler,
  ) {}

  offer(bytes: Uint8Array, address: string): boolean {
    if (address !== this.#lastAddress) {
      this.#lastAddress = address;
      this.#lastIp = parseIpv4(address) ?? -1;
    }
    if (this.#lastIp < 0) return false;
    const r = placeDatagram(this.table.words, this.table.pool, bytes, this.#lastIp, this.#rec, 0);
    if (r !== PlaceResult.Placed) return false;
    this.placed++;
    this.onPlaced(this.#rec, 0, 1);
    return true;
  }
}
