// DATA placement changes where a data block's bytes are copied, never what the receiver
// does: the same seeded scenario run with every receiver on heap memory and on a
// PlacementTable (TS placement before the core, as the drivers' data socket does) must end
// the same, counter for counter and byte for byte: loss in bursts, reordering, duplicates,
// FEC stripes, an image of unknown size, --async, a receiver killed, late joiners.

import { describe, expect, it } from 'vitest';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

const SCENARIOS: readonly (readonly [string, SimOptions])[] = [
  ['clean, 2 receivers', { receivers: 2, imageBytes: 300_000, seed: 101 }],
  [
    '5% loss in bursts, reordering, duplicates',
    { receivers: 3, imageBytes: 400_000, seed: 102, loss: { rate: 0.05, burst: 4 }, jitterMs: 0.5, duplicate: 0.02 },
  ],
  ['FEC 4 stripes, 10% loss', { receivers: 3, imageBytes: 500_000, seed: 103, stripes: 4, sliceBlocks: 64, redundancy: 2, loss: { rate: 0.1 } }],
  ['unknown size, short last block', { receivers: 2, imageBytes: 64 * 256 * 4 + 77, seed: 104, unknownSize: true, loss: { rate: 0.03 } }],
  ['unknown size, whole slices', { receivers: 2, imageBytes: 64 * 256 * 5, seed: 105, unknownSize: true, loss: { rate: 0.02 } }],
  ['--async with FEC', { receivers: 2, imageBytes: 200_000, seed: 106, async: true, stripes: 2, redundancy: 4, loss: { rate: 0.01 } }],
  ['a receiver killed mid-transfer', { receivers: 3, imageBytes: 400_000, seed: 107, loss: { rate: 0.02 }, kill: new Map([[1, 40]]) }],
  ['late joiners (--streaming)', { receivers: 3, imageBytes: 600_000, seed: 108, loss: { rate: 0.02 }, sender: { streaming: true }, join: new Map([[2, 30]]) }],
  [
    'slow sink, small retention',
    { receivers: 2, imageBytes: 300_000, seed: 109, retainSlices: 4, sinkBytesPerMs: (i) => (i === 0 ? 2000 : undefined), loss: { rate: 0.03 } },
  ],
];

function summary(r: SimResult): unknown {
  return {
    steps: r.steps,
    timeMs: r.timeMs,
    sender: r.sender.stats,
    receivers: r.receivers.map((x) => ({
      done: x.done,
      ok: x.ok,
      detail: x.detail,
      joinSlice: x.joinSlice,
      stats: x.core.stats,
      image: Buffer.from(x.image).toString('base64'),
    })),
  };
}

describe('DATA placement is invisible to the protocol', () => {
  for (const [name, o] of SCENARIOS) {
    it(name, () => {
      const plain = simulate(o);
      const placed = simulate({ ...o, placement: true });
      expect(summary(placed), `seed ${o.seed}`).toEqual(summary(plain));
      // It was the placing path that ran: all but each slice's first block (which opens it) and parity.
      const dataPackets = placed.receivers.reduce((n, x) => n + x.core.stats.dataPackets, 0);
      const placedCount = placed.receivers.reduce((n, x) => n + x.placed, 0);
      expect(placedCount).toBeGreaterThan(dataPackets / 2);
      for (const x of placed.receivers) {
        expect(x.memory?.stats.collisions).toBe(0);
        expect(x.memory?.stats.unpooled).toBe(0);
        expect(x.core.stats.drops.ERR_UNPLACED).toBeUndefined();
      }
    });
  }
});
