// How late feedback comes, and the NAK timers that follow it (receiver/core/feedback-lag.ts):
// nothing changes until a measured round trip asks for more than the configured timers give.

import { describe, expect, it } from 'vitest';
import { FeedbackLag, thinnedOut } from '../../../../receiver/core/feedback-lag.js';

const CFG = { nakBackoffMs: 8, repairWaitMs: 30 };
/** A quiet session's bands (nak-scheduler.ts QUIET_BANDS): 6 + 2 × log2(256 / 6). */
const QUIET_BANDS = 6 + 2 * Math.log2(256 / 6);

describe('FeedbackLag', () => {
  it('before any round trip: the configured backoff and wait, not lagged', () => {
    const lag = new FeedbackLag(CFG);
    expect(lag.rtoMs()).toBeUndefined();
    expect(lag.backoffMs(QUIET_BANDS)).toBe(8);
    expect(lag.repairWaitMs(1.2)).toBe(1.2);
    expect(lag.lagged(QUIET_BANDS)).toBe(false);
  });

  it('smooths as RFC 6298 (gains 1/8 and 1/4), the deviation starting at 0', () => {
    const lag = new FeedbackLag(CFG);
    lag.take(4);
    expect(lag.rtoMs()).toBe(4);
    lag.take(12);
    // rttvar = 0 + (|4 - 12| - 0) / 4 = 2; rtt = 4 + (12 - 4) / 8 = 5.
    expect(lag.rtoMs()).toBe(5 + 4 * 2);
    expect(lag.burstSlackMs()).toBe(8);
  });

  it('a fast network (0.4 ms round trips, as in the simulator) keeps the configured timers', () => {
    const lag = new FeedbackLag(CFG);
    for (let i = 0; i < 20; i++) lag.take(0.4);
    expect(lag.backoffMs(QUIET_BANDS)).toBe(8);
    expect(lag.backoffMs(4)).toBe(8);
    expect(lag.repairWaitMs(1.2)).toBe(1.2);
    expect(lag.lagged(QUIET_BANDS)).toBe(false);
  });

  it('late feedback: a band of at least half a timeout, the backoff at most 4 × nakBackoffMs', () => {
    const lag = new FeedbackLag(CFG);
    lag.take(3); // timeout 3 ms
    expect(lag.backoffMs(4)).toBe(8); // 4 × 0.5 × 3 = 6 < 8
    expect(lag.backoffMs(QUIET_BANDS)).toBeCloseTo(QUIET_BANDS * 0.5 * 3, 9); // about 25 ms
    expect(lag.lagged(QUIET_BANDS)).toBe(false);
    const late = new FeedbackLag(CFG);
    late.take(40); // timeout 40 ms
    expect(late.backoffMs(QUIET_BANDS)).toBe(32);
    expect(late.lagged(QUIET_BANDS)).toBe(true);
    // The wait for a repair: the timeout, at most 8 × repairWaitMs.
    expect(late.repairWaitMs(30)).toBe(40);
    late.take(200); // rttvar 40, rtt 60: 220 ms
    expect(late.repairWaitMs(30)).toBe(220);
    late.take(600);
    expect(late.repairWaitMs(30)).toBe(240);
  });
});

describe('thinnedOut', () => {
  it('of about `peers` sharing a need, each asks with chance 3 / peers; 3 or fewer all ask', () => {
    expect(thinnedOut(0.99, 3)).toBe(false);
    expect(thinnedOut(0.05, 30)).toBe(false); // 0.05 × 30 < 3: asks
    expect(thinnedOut(0.5, 30)).toBe(true);
    let asking = 0;
    for (let i = 0; i < 1000; i++) if (!thinnedOut((i + 0.5) / 1000, 20)) asking++;
    expect(asking).toBe(150);
  });
});
