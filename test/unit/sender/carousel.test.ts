// SenderCore with --async --carousel N (sender/core/slices.ts, core.ts maybeEnd): the
// passes, what HELLO says in each, and what the driver is asked to read. Geometry
// (test/support/cores.ts): 100-byte blocks, 4 a slice, 1 stripe; 1000 bytes = 3 slices (400,
// 400, 200); redundancy 1, so a pass is 3 slices of 4 + 1, 4 + 1 and 2 + 1 datagrams.

import { describe, expect, it } from 'vitest';
import { CAP_MORE_PASSES, MessageType } from '../../../protocol/header.js';
import { SenderCore } from '../../../sender/core.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainSender, only, senderConfig, types } from '../../support/cores.js';

const IMAGE = pattern(1000);

function feed(core: SenderCore, now: number): void {
  while (core.wantsSlice()) {
    const off = core.nextSliceNo * 400;
    if (core.pass === 1 && off >= IMAGE.byteLength) return;
    core.handle({ kind: 'slice', bytes: IMAGE.subarray(off, Math.min(1000, off + 400)) }, now);
  }
}

describe('SenderCore --carousel', () => {
  it('sends the image twice: HELLO says more passes in the first and not in the last; one END between, five at the end', () => {
    const core = new SenderCore(
      senderConfig({ async: true, carouselPasses: 2, redundancy: 1, imageBytes: 1000, minWaitMs: 100, helloIntervalMs: 50, maxBitrateBps: undefined }),
      0,
    );
    core.handleTimeout(0);
    const hello0 = only(drainSender(core, 0), MessageType.Hello);
    expect(hello0.map((h) => (h.caps & CAP_MORE_PASSES) !== 0)).toEqual([true]);
    core.handleTimeout(100);
    feed(core, 100);
    core.handle({ kind: 'eof', digest: pattern(32, 9) }, 100);
    const pass1 = drainSender(core, 100);
    expect(types(pass1).filter((t) => t === 'DATA')).toHaveLength(13);
    // The first pass is over: its END, then the HELLO of the last pass, before any of its DATA.
    expect(types(pass1).slice(-2)).toEqual(['END', 'HELLO']);
    expect((only(pass1, MessageType.Hello).at(-1)!.caps & CAP_MORE_PASSES) !== 0).toBe(false);
    expect(core.pass).toBe(2);
    expect(core.nextSliceNo).toBe(0);
    expect(core.bytesRead).toBe(1000);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['started', 'pass']);
    // The driver reads pass 2 at the offsets.
    feed(core, 101);
    const pass2 = drainSender(core, 101);
    expect(types(pass2)).toEqual([...Array(13).fill('DATA'), 'END']);
    expect(core.currentPhase).toBe('ending');
    for (let t = 150; t <= 600 && core.currentPhase !== 'done'; t += 50) {
      core.handleTimeout(t);
      drainSender(core, t);
    }
    expect(core.currentPhase).toBe('done');
    expect(core.stats.ends).toBe(1 + 5);
    expect(core.stats.dataPackets).toBe(26);
    expect(core.succeeded).toBe(true);
  });

  it("refuses a later pass's slice of the wrong size", () => {
    const core = new SenderCore(senderConfig({ async: true, carouselPasses: 2, redundancy: 1, imageBytes: 1000, minWaitMs: 0 }), 0);
    core.handleTimeout(0);
    feed(core, 0);
    core.handle({ kind: 'eof', digest: pattern(32, 9) }, 0);
    drainSender(core, 0);
    expect(core.pass).toBe(2);
    expect(() => core.handle({ kind: 'slice', bytes: IMAGE.subarray(0, 300) }, 1)).toThrow(/slice 0 of pass 2 has 300 bytes, not 400/);
  });
});
