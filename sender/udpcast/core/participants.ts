// The receivers a udpcast sender knows, keyed by IPv4 address only, as udpcast keys them
// (docs/udpcast-wire.md §2: two receivers behind one address are one participant). Each
// gets the lowest free clNr (0..1023, its bit in REQACK's readySet) for the whole session.

import { MAX_CLIENTS } from '../../../protocol/udpcast/wire.js';

export type UdpcastReceiverState = 'connected' | 'complete' | 'dropped' | 'left' | 'unconfirmed';

export interface UdpcastReceiverRecord {
  readonly clNr: number;
  readonly address: string;
  state: UdpcastReceiverState;
  /** Why it is dropped or left, or what "complete" cannot say. */
  detail: string;
  /** SO_RCVBUF it reported (udpcast's senders never read it). */
  readonly rcvbufBytes: number;
  /** Slices it acknowledged. */
  slicesAcked: number;
  /** REQACK rounds in a row it answered nothing. */
  silentRounds: number;
}

export class Participants {
  private readonly byAddress = new Map<string, UdpcastReceiverRecord>(); // bounded: MAX_CLIENTS
  private readonly byClNr: (UdpcastReceiverRecord | undefined)[] = new Array(MAX_CLIENTS);

  get size(): number {
    return this.byAddress.size;
  }

  get(address: string): UdpcastReceiverRecord | undefined {
    return this.byAddress.get(address);
  }

  /** A new participant with the lowest free clNr, or undefined when all 1024 are taken. */
  add(address: string, rcvbufBytes: number): UdpcastReceiverRecord | undefined {
    let clNr = -1;
    for (let i = 0; i < MAX_CLIENTS; i++) {
      if (this.byClNr[i] === undefined) {
        clNr = i;
        break;
      }
    }
    if (clNr < 0) return undefined;
    const rec: UdpcastReceiverRecord = {
      clNr,
      address,
      state: 'connected',
      detail: '',
      rcvbufBytes: rcvbufBytes === 0 ? 65536 : rcvbufBytes,
      slicesAcked: 0,
      silentRounds: 0,
    };
    this.byAddress.set(address, rec);
    this.byClNr[clNr] = rec;
    return rec;
  }

  all(): IterableIterator<UdpcastReceiverRecord> {
    return this.byAddress.values();
  }

  /** In clNr order. */
  list(): UdpcastReceiverRecord[] {
    return [...this.byAddress.values()].sort((a, b) => a.clNr - b.clNr);
  }

  /** Those still taking part (not complete, dropped or gone). */
  live(): UdpcastReceiverRecord[] {
    return [...this.byAddress.values()].filter((r) => r.state === 'connected');
  }

  everyoneComplete(): boolean {
    return this.byAddress.size > 0 && [...this.byAddress.values()].every((r) => r.state === 'complete');
  }
}
