// A receiver that saw none of the first window's DATA holds the flow window shut (it
// counts from the least DATA any receiver has seen), and the repairs it asks for went out
// only through that same window: nothing moved until its retries ran out and it was
// dropped, the other receivers waiting all along (what the netboot VM test hit once: one
// VM read no DATA, the sender dropped it after 60 s). Each round while DATA waits now lets
// SHUT_REPAIRS_PER_ROUND repairs past the shut window (sender/core/flow.ts); the first one
// it reads tells it the newest sequence number, and its next STATUS opens the window.

import { describe, expect, it } from 'vitest';
import { SHUT_REPAIRS_PER_ROUND } from '../../sender/core/flow.js';
import { simulate } from '../support/simulate.js';

describe('a receiver that saw none of the first window', () => {
  it('gets its repairs past the shut window and verifies; nobody is dropped', () => {
    // Receiver 1 hears no DATA until the window first shut (its data group was away), then all.
    let shut = false;
    const r = simulate({
      receivers: 3,
      imageBytes: 8 << 20,
      seed: 5,
      blockBytes: 1448,
      sliceBlocks: 64,
      // Retention beyond the flow window (1872 datagrams here): the window is what shuts.
      retainSlices: 64,
      latencyMs: 0.2,
      linkRateBps: 1e9,
      maxTimeMs: 60_000,
      onSenderTransmit: (_at, _bytes, sender) => {
        if (sender.stats.windowStalls > 0) shut = true;
      },
      dropData: (rcv) => rcv === 1 && !shut,
    });
    const s = r.sender.stats;
    expect(r.receivers.map((x) => x.ok)).toEqual([true, true, true]);
    expect(s.drops).toEqual({});
    // Repairs went past the shut window, a handful a round: not a flood.
    expect(s.shutWindowRepairs).toBeGreaterThan(0);
    expect(s.shutWindowRepairs).toBeLessThanOrEqual(SHUT_REPAIRS_PER_ROUND * 2);
    // The first ones reopened the window: done in about 114 ms (without them: dropped after its retries, at 510 ms).
    expect(r.senderDoneAtMs).toBeLessThan(300);
  });
});
