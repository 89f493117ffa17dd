// A quiet session's probe rounds (sender/core/probe.ts) on their own, with the credit they
// give and the REQACKs they send recorded: late answers (feedback milliseconds late, as on
// a loaded machine) lengthen the rounds and lower the next one's thresholds.

import { describe, expect, it } from 'vitest';
import type { Participants, ReceiverRecord } from '../../../sender/core/participants.js';
import { ProbeRounds } from '../../../sender/core/probe.js';
import type { Transmitter } from '../../../sender/core/transmit.js';

interface Sent {
  readonly needSlices: number;
  readonly needSeq: number;
}

function rounds(): { probe: ProbeRounds; sent: Sent[]; credits: [number, number, number][] } {
  const sent: Sent[] = [];
  const credits: [number, number, number][] = [];
  const participants = {
    roundSent: () => {},
    credit: (round: number, abs: number, slices: number) => credits.push([round, abs, slices]),
  } as unknown as Participants;
  const tx = {
    reqack: (needSlices: number, needSeq: number) => {
      sent.push({ needSlices, needSeq });
      return sent.length;
    },
  } as unknown as Transmitter;
  // answerWindowMs 4: a round ends 1.5 × 4 + 1 = 7 ms after it began.
  const probe = new ProbeRounds({ answerWindowMs: 4, heartbeatMs: 500, maxReportingReceivers: 8 }, participants, tx, (abs) => abs);
  return { probe, sent, credits };
}

const rcv = (deliveredSlices: number): ReceiverRecord => ({ deliveredSlices, answeredRound: 0 }) as unknown as ReceiverRecord;

describe('ProbeRounds', () => {
  it('an answer in time lowers the round; the round ends 7 ms after it began', () => {
    const { probe, credits } = rounds();
    probe.begin(0, 100, 10, 32);
    probe.answer(rcv(6), 1, 90, 3);
    expect(probe.nextTimeoutMs()).toBe(1); // the first copy at answerWindowMs / 4
    probe.tick(1);
    probe.tick(2);
    expect(probe.tick(6.9)).toBe(false);
    expect(probe.tick(7)).toBe(true);
    expect(credits).toEqual([[1, -Infinity, -Infinity]]); // no round before it
    probe.begin(10, 200, 20, 32);
    expect(probe.nextTimeoutMs()).toBe(11);
    for (const t of [11, 12]) probe.tick(t);
    expect(probe.tick(17)).toBe(true);
    expect(credits[1]).toEqual([2, 90, 6]);
  });

  it('an answer 40 ms after its round began: later rounds last 41 ms, and the next one asks from where it stood', () => {
    const { probe, sent, credits } = rounds();
    probe.begin(0, 100, 10, 32);
    for (const t of [1, 2, 7]) probe.tick(t);
    expect(credits).toHaveLength(1);
    // Round 1 ended at 7 ms; its answer comes at 40 ms, with no round in progress.
    probe.answer(rcv(4), 1, 50, 40);
    probe.begin(45, 200, 20, 32);
    // The round asks from the late answer on, and ends 40 ms (the lag) + 1 ms after it began.
    expect(sent.at(-1)).toEqual({ needSlices: 4, needSeq: 50 });
    for (const t of [46, 47]) probe.tick(t);
    expect(probe.tick(52)).toBe(false);
    expect(probe.tick(85.9)).toBe(false);
    expect(probe.tick(86)).toBe(true);
    expect(credits[1]).toEqual([2, 50, 4]);
  });

  it('a late answer while a round is in progress lowers that round', () => {
    const { probe, credits } = rounds();
    probe.begin(0, 100, 10, 32);
    for (const t of [1, 2, 7]) probe.tick(t);
    probe.begin(8, 200, 20, 32);
    probe.answer(rcv(3), 1, 40, 9); // names round 1's REQACK
    for (const t of [9, 10]) probe.tick(t);
    expect(probe.tick(17)).toBe(true);
    expect(credits[1]).toEqual([2, 40, 3]);
  });
});
