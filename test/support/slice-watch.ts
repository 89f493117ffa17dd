// What the scale scenarios read off the sender's wire (simulate()'s onSenderTransmit): when
// the first DATA went out, and the STATUS the sender heard while each slice's DATA was
// going out (the "STATUS per slice", the most in any one slice).

import { decodeHeader, MessageType } from '../../protocol/header.js';
import type { SenderCore } from '../../sender/core.js';

export class SliceWatch {
  /** Virtual time of the first DATA (-1: none yet). */
  firstDataMs = -1;
  private sliceNo = 0;
  private statusSeen = 0;
  private readonly statusBySlice = new Map<number, number>(); // one entry per slice

  /** For simulate({ onSenderTransmit }). */
  readonly onSenderTransmit = (atMs: number, bytes: Uint8Array, sender: SenderCore): void => {
    // STATUS heard since the last transmit counts for the slice whose DATA was going out.
    const heard = sender.stats.statusReceived - this.statusSeen;
    this.statusSeen += heard;
    if (heard > 0) this.statusBySlice.set(this.sliceNo, (this.statusBySlice.get(this.sliceNo) ?? 0) + heard);
    const h = decodeHeader(bytes);
    if (h.ok && h.value.type === MessageType.Data) {
      if (this.firstDataMs < 0) this.firstDataMs = atMs;
      this.sliceNo = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, false);
    }
  };

  /** The most STATUS heard while one slice's DATA went out. */
  statusMaxInSlice(): number {
    return Math.max(0, ...this.statusBySlice.values());
  }
}
