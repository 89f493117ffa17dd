// The clone agent's line of receiver counters (clone/receive.ts): what the receive step
// logs either way, so that a node that stalled says whether its data socket heard anything.

import { describe, expect, it } from 'vitest';
import { receiverCounters } from '../../../clone/receive.js';
import { newReceiverStats } from '../../../receiver/core/stats.js';

const io = (datagramsReceived: number, placed: number) => ({
  path: 'native',
  description: 'recvmmsg',
  data: { datagramsSent: 0, sendCalls: 0, sendBlocked: 0, sendErrors: 0, datagramsReceived, recvCalls: 0 },
  placed,
});

describe('receiverCounters', () => {
  it('says what the data socket read, what the core took, sent and dropped', () => {
    const stats = { ...newReceiverStats(), dataPackets: 900, parityPackets: 40, duplicates: 3, decodedBlocks: 7, resentBlocks: 2, naksSent: 5, statusSent: 11 };
    stats.heartbeatsSent = 4;
    stats.naksHeard = 6;
    stats.othersFeedback = 8;
    stats.beforeAccept = 1;
    stats.drops = { ERR_AHEAD: 12, ERR_BAD_FIELD: 0, ERR_WRONG_SESSION: 2 };
    expect(receiverCounters({ stats, io: io(960, 930) })).toBe(
      'receiver counters: the data socket read 960 datagrams (930 placed); 900 DATA and 40 parity taken, 3 duplicates, 9 blocks repaired; ' +
        'sent 5 NAKs, 11 STATUS, 4 heartbeats; heard 6 NAKs and 8 other feedback of other receivers; 1 let by before our ACCEPT; ' +
        'dropped ERR_AHEAD 12, ERR_WRONG_SESSION 2',
    );
  });

  it('a receiver that heard nothing says so', () => {
    expect(receiverCounters({ stats: newReceiverStats(), io: io(0, 0) })).toBe(
      'receiver counters: the data socket read 0 datagrams (0 placed); 0 DATA and 0 parity taken, 0 duplicates, 0 blocks repaired; ' +
        'sent 0 NAKs, 0 STATUS, 0 heartbeats; heard 0 NAKs and 0 other feedback of other receivers; 0 let by before our ACCEPT; dropped nothing',
    );
  });
});
