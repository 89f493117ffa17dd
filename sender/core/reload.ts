// Reloads for late receivers (--streaming): a receiver that joined at slice J asks for the
// head 0..J-1 by NAK. A head slice the sender no longer holds is read again from the source:
// the NAK waits here, the driver is asked for the slice (pollReload), and once it is back
// the slice is held again and the NAK answered.
//
// What holds: at most retainSlices NAKs wait (one per slice, the latest kept; more are
// refused and the receiver asks again); a slice is handed to the driver once and must come
// back before it is asked for again; reloaded slices held plus those out with the driver
// are at most retainSlices, the oldest idle one (no repair queued) evicted to make room.

import { sliceBytesOf } from '../../protocol/geometry.js';
import { IMAGE_BYTES_UNKNOWN } from '../../protocol/messages/hello.js';
import type { Nak } from '../../protocol/messages/nak.js';
import type { SenderConfig } from './config.js';
import { repairsQueued } from './repair.js';
import type { SliceStore } from './slices.js';
import type { SenderStats } from './stats.js';

interface Wanted {
  /** The NAK to answer once the slice is back (a later one for the same slice replaces it). */
  nak: Nak;
  /** Handed to the driver by poll() and not yet back. */
  out: boolean;
}

export class ReloadTable {
  /** Head slices asked for that are not held, in the order first asked. */
  private readonly wanted = new Map<number, Wanted>(); // bounded by cfg.retainSlices
  private outCount = 0;
  /** Reloaded slices held (in the slice store), oldest first; with outCount at most cfg.retainSlices. */
  private readonly reloaded: number[] = [];

  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'retainSlices' | 'imageBytes'>>,
    private readonly stats: SenderStats,
    private readonly slices: SliceStore,
  ) {}

  /** NAKs waiting for their slice. */
  get pending(): number {
    return this.wanted.size;
  }

  /** Keeps the NAK for a head slice to reload; false when the table is full (the receiver asks again). */
  want(nak: Nak): boolean {
    const w = this.wanted.get(nak.sliceNo);
    if (w !== undefined) {
      w.nak = nak;
      return true;
    }
    if (this.wanted.size >= this.cfg.retainSlices) return false;
    this.wanted.set(nak.sliceNo, { nak, out: false });
    return true;
  }

  /** The next slice for the driver to read again, handed out once (see SenderCore.pollReload). */
  poll(): number | undefined {
    for (const [n, w] of this.wanted) {
      if (w.out) continue;
      if (this.reloaded.length + this.outCount >= this.cfg.retainSlices && !this.evict()) return undefined;
      w.out = true;
      this.outCount++;
      return n;
    }
    return undefined;
  }

  /**
   * A slice back from the driver: held again unless the session is over or it is held
   * already; the NAK to answer now, or undefined. A slice not asked for, or of the wrong
   * size, is the driver's mistake: RangeError.
   */
  take(sliceNo: number, bytes: Uint8Array, sessionOver: boolean): Nak | undefined {
    const w = this.wanted.get(sliceNo);
    if (w === undefined || !w.out) throw new RangeError(`reload of slice ${sliceNo}, which pollReload() did not ask for`);
    this.wanted.delete(sliceNo);
    this.outCount--;
    // --streaming needs a source of known size (a file or device), so every slice's size is known.
    const want = sliceBytesOf(this.slices.geo, this.cfg.imageBytes, sliceNo);
    if (this.cfg.imageBytes === IMAGE_BYTES_UNKNOWN || bytes.byteLength !== want) {
      throw new RangeError(`reloaded slice ${sliceNo} has ${bytes.byteLength} bytes, not ${want}`);
    }
    if (sessionOver || this.slices.has(sliceNo)) return undefined;
    this.slices.putReloaded(sliceNo, bytes);
    this.reloaded.push(sliceNo);
    this.stats.reloads++;
    return w.nak;
  }

  /** Frees the oldest reloaded slice with no repair queued; false if every one still has some. */
  private evict(): boolean {
    for (let i = 0; i < this.reloaded.length; i++) {
      const s = this.slices.get(this.reloaded[i]!);
      if (s !== undefined && repairsQueued(s)) continue;
      this.slices.deleteReloaded(this.reloaded[i]!);
      this.reloaded.splice(i, 1);
      return true;
    }
    return false;
  }
}
