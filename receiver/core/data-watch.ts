// The sender is heard but its DATA is not: the data group does not reach us. The control
// (HELLO, REQACK, END) comes on the rendezvous group, which we joined first; the DATA on
// the data group, joined after HELLO named it. A join that got lost on the way (an IGMP
// report a snooping switch never saw, a NIC's multicast filter not updated) leaves a node
// that hears every REQACK, NAKs everything, and gets nothing, until the sender drops it
// for no progress. Nothing else would notice: the network is fine for everyone else.
//
// The sign: a REQACK asks about DATA (needSeq) newer than the newest we saw, and no DATA
// at all came for DATA_SILENT_MS. Then the driver joins the data group again (a new IGMP
// report, the filter written again), at most once per DATA_SILENT_MS. A slow sender, or one
// waiting for another receiver, sends no DATA but asks for none we lack: no sign.

/** No DATA this long while the sender asks about DATA we never saw: join the data group again. */
export const DATA_SILENT_MS = 2_000;

export class DataWatch {
  private lastDataAtMs: number;
  private lastRejoinAtMs = Number.NEGATIVE_INFINITY;

  /** From the transfer's start: the first DATA may take a while to come too. */
  constructor(now: number) {
    this.lastDataAtMs = now;
  }

  /** Any DATA from the data group (a duplicate too: the group reaches us). */
  onData(now: number): void {
    this.lastDataAtMs = now;
  }

  /**
   * The sender asked about DATA newer than we saw. Returns how long no DATA came when the
   * data group should be joined again now, undefined otherwise.
   */
  onBehind(now: number): number | undefined {
    const silentMs = now - this.lastDataAtMs;
    if (silentMs < DATA_SILENT_MS || now - this.lastRejoinAtMs < DATA_SILENT_MS) return undefined;
    this.lastRejoinAtMs = now;
    return silentMs;
  }
}
