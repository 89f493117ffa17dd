import { describe, expect, it } from 'vitest';
import { simulate } from './simnet.js';

describe('smoke', () => {
  it('one receiver no loss', () => {
    const r = simulate({ receivers: 1, imageBytes: 100_000, seed: 1 });
    console.log(r.timeMs, r.steps, r.sender.stats, r.receivers[0].detail, r.receivers[0].core.stats);
    expect(r.receivers[0].ok).toBe(true);
    expect(Buffer.compare(Buffer.from(r.receivers[0].image), Buffer.from(r.image))).toBe(0);
  });
  it('3 receivers 5% loss', () => {
    const r = simulate({ receivers: 3, imageBytes: 300_000, seed: 2, loss: { rate: 0.05 } });
    console.log(r.timeMs, r.steps, r.sender.stats, r.receivers.map((x) => [x.ok, x.detail, x.core.stats]));
    for (const x of r.receivers) expect(x.ok).toBe(true);
  });
});
