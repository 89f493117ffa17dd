// What the sender makes of HEARTBEATs (sender/core/health.ts, participants.ts) and how the
// live table shows it (sender/live-table.ts): exact figures from hand-made heartbeats, and
// the table's fit to a terminal for 6 and 40 nodes.

import { describe, expect, it } from 'vitest';
import { encodeHeartbeat, HEARTBEAT_SIZE, type Heartbeat, Limit } from '../../../protocol/messages/heartbeat.js';
import { RECENT_WINDOW_MS, ReceiverHealth } from '../../../sender/core/health.js';
import { SenderCore } from '../../../sender/core.js';
import { renderTable } from '../../../sender/live-table.js';
import type { NodeView } from '../../../sender/node-view.js';
import { slowestFirst } from '../../../sender/node-view.js';
import { drainSender, senderConfig } from '../../support/cores.js';
import { joinBytes, rcv, SESSION } from '../../support/datagrams.js';

function hb(o: Partial<Heartbeat>): Heartbeat {
  return {
    sessionId: SESSION,
    receiverId: rcv(0).id,
    limit: Limit.Network,
    flags: 0,
    cpuPermille: 0,
    elapsedMs: 0,
    bytesWritten: 0,
    outputBytes: 0,
    sinkBusyMs: 0,
    outputBusyMs: 0,
    packetsRead: 0,
    packetsSent: 0,
    repairedBlocks: 0,
    deliveredSlices: 0,
    ...o,
  };
}

describe('ReceiverHealth', () => {
  it("rates and shares over the receiver's own clock, across a counter wrap; a heartbeat that is not newer changes nothing", () => {
    const h = new ReceiverHealth(1000);
    expect(h.take(hb({ elapsedMs: 1000, bytesWritten: 1_000_000, packetsRead: 0xffff_ff00, packetsSent: 0xffff_ff00, sinkBusyMs: 100 }), 5)).toBe(true);
    expect(h.figures.rateBps).toBeUndefined();
    expect(
      h.take(
        hb({
          elapsedMs: 1500,
          bytesWritten: 5_000_000,
          outputBytes: 2_000_000,
          packetsRead: 0x0000_0080, // +384 across the wrap
          packetsSent: 0x0000_0100, // +512
          sinkBusyMs: 350,
          repairedBlocks: 50,
          cpuPermille: 400,
          limit: Limit.Disk,
        }),
        600,
      ),
    ).toBe(true);
    expect(h.figures).toEqual({
      rateBps: 8_000_000,
      outputBps: 4_000_000,
      lossShare: 0.25,
      sinkBusyShare: 0.5,
      // Two samples: the latest ones are the whole window.
      recentSinkBusyShare: 0.5,
      recentRateBps: 8_000_000,
      repairShare: 0.01,
      cpuShare: 0.4,
      spanMs: 500,
      limit: Limit.Disk,
      catchUp: false,
      heardAtMs: 600,
    });
    expect(h.take(hb({ elapsedMs: 1500, bytesWritten: 9_000_000 }), 700)).toBe(false);
    expect(h.take(hb({ elapsedMs: 1400, bytesWritten: 9_000_000 }), 700)).toBe(false);
    expect(h.figures.rateBps).toBe(8_000_000);
  });

  it('takes rates over the last 2 s of samples, not since the start', () => {
    const h = new ReceiverHealth(1000);
    for (let i = 0; i <= 10; i++) h.take(hb({ elapsedMs: i * 500, bytesWritten: i < 6 ? i * 10_000_000 : 50_000_000 + (i - 5) * 1_000_000 }), i * 500);
    // The newest sample is at 5000 ms and the window reaches back to 3000 ms (51 MB then, 55 MB now).
    expect(h.figures.rateBps).toBe(((55_000_000 - 51_000_000) * 1000) / 2000);
  });

  it('takes the "now" of the sink over the newest samples spanning RECENT_WINDOW_MS: a sink busy from 1 s on reads 0.8 over the window, 1 now', () => {
    expect(RECENT_WINDOW_MS).toBe(300);
    const h = new ReceiverHealth(1000);
    // Heartbeats every 125 ms; the sink idle (the page cache takes the writes) until 1000 ms,
    // then busy all the time and writing 1 MB every 125 ms.
    for (let i = 0; i <= 20; i++) {
      const t = i * 125;
      h.take(hb({ elapsedMs: t, sinkBusyMs: Math.max(0, t - 1000), bytesWritten: t <= 1000 ? t * 40_000 : 40_000_000 + (i - 8) * 1_000_000 }), t);
    }
    // Newest at 2500 ms: the window reaches back to the oldest of the 16 samples kept, 625 ms
    // (busy 1500 of 1875 ms), the recent one to 2125 ms (three intervals, 375 ms: busy
    // throughout, 3 MB written).
    expect(h.figures.sinkBusyShare).toBe(0.8);
    expect(h.figures.recentSinkBusyShare).toBe(1);
    expect(h.figures.recentRateBps).toBe(8_000_000);
  });
});

describe('SenderCore and HEARTBEAT', () => {
  it('counts it, keeps the figures on the record, and takes what it wrote as progress', () => {
    const core = new SenderCore(senderConfig({ minReceivers: 1 }), 0);
    core.handleTimeout(0);
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: joinBytes({ receiverId: rcv(0).id }) }, 1);
    drainSender(core, 1);
    const send = (o: Partial<Heartbeat>, now: number, from = rcv(0).from): void => {
      const b = new Uint8Array(HEARTBEAT_SIZE);
      encodeHeartbeat(hb(o), b);
      core.handle({ kind: 'datagram', from, bytes: b }, now);
    };
    send({ elapsedMs: 100, bytesWritten: 400 }, 10);
    send({ elapsedMs: 600, bytesWritten: 1200, limit: Limit.Cpu }, 20);
    send({ elapsedMs: 700, bytesWritten: 1600 }, 30, rcv(1).from); // someone else's address
    expect(core.stats.heartbeatsReceived).toBe(2);
    expect(core.stats.drops.ERR_FOREIGN_ADDRESS).toBe(1);
    const [r] = core.receiverList();
    expect(r!.bytesWritten).toBe(1200);
    expect(r!.health.figures.limit).toBe(Limit.Cpu);
    expect(r!.health.figures.rateBps).toBe(1600);
  });
});

function node(name: string, state: NodeView['state'], done: number, rateMBps: number | undefined, limit = 'net'): NodeView {
  return {
    name,
    id: `${name.length.toString(16).padStart(4, '0')}abcd`,
    address: '198.18.0.1',
    state,
    bytes: 0,
    done,
    rateBps: rateMBps === undefined ? undefined : rateMBps * 1e6,
    lossShare: 0.012,
    repairShare: 0.004,
    outputBps: rateMBps === undefined ? undefined : rateMBps * 1e6,
    limit,
    detail: state === 'failed' ? 'digest mismatch' : state === 'missing' ? 'never joined' : '',
    seconds: state === 'verified' ? 12.34 : undefined,
    catchUp: state === 'catch-up' ? 'slow' : undefined,
    catchUpAtSeconds: state === 'catch-up' ? 1.2 : undefined,
  };
}

describe('renderTable', () => {
  const summary = { phase: 'transferring', bytesRead: 300 << 20, imageBytes: 1024 << 20, sendBps: 98.2e6, repairShare: 0.012, seconds: 12 };

  it('six nodes on 80 columns: a summary, a header, one row each, slowest first', () => {
    const nodes = [
      node('node01', 'live', 0.31, 28.1),
      node('node02', 'verified', 1, undefined),
      node('node03', 'catch-up', 0.12, 8.0, 'disk'),
      node('node04', 'live', 0.3, 28.0),
      node('node05', 'failed', 0.2, undefined),
      node('node06', 'missing', 0, undefined),
    ].sort(slowestFirst);
    const lines = renderTable(summary, nodes, { columns: 80, rows: 24 });
    expect(lines).toEqual([
      'transferring 12 s  6 nodes: 2 live, 1 catch-up, 1 verified, 1 failed, 1 missin~',
      'node     state      done   MB/s  loss repair   disk limit',
      'node05   failed      20%      -  1.2%   0.4%      - digest mismatch',
      'node06   missing      0%      -  1.2%   0.4%      - never joined',
      'node03   catch-up    12%    8.0  1.2%   0.4%    8.0 disk',
      'node04   live        30%   28.0  1.2%   0.4%   28.0 net',
      'node01   live        31%   28.1  1.2%   0.4%   28.1 net',
      'node02   verified   100%      -  1.2%   0.4%      - in 12.3 s',
    ]);
  });

  it('forty nodes on a 160x50 terminal: every node has a row, no line reaches the last column', () => {
    const nodes = Array.from({ length: 40 }, (_, i) => node(`rack7-node${String(i + 1).padStart(2, '0')}`, 'live', (i % 10) / 10, 20 + i)).sort(slowestFirst);
    const lines = renderTable(summary, nodes, { columns: 160, rows: 50 });
    expect(lines).toHaveLength(42);
    for (const l of lines) expect(l.length).toBeLessThan(160);
    expect(lines[2]!.startsWith('rack7-node01 ')).toBe(true);
    expect(lines[0]).toContain('40 nodes: 40 live');
  });

  it('forty nodes on 80x24: the slowest 20 and one line for the rest', () => {
    const nodes = Array.from({ length: 40 }, (_, i) => node(`n${i + 1}`, i < 30 ? 'live' : 'verified', i / 40, 20)).sort(slowestFirst);
    const lines = renderTable(summary, nodes, { columns: 80, rows: 24 });
    expect(lines).toHaveLength(23);
    expect(lines[2]!.startsWith('n1 ')).toBe(true);
    expect(lines[22]).toBe('... 20 more: 10 live, 10 verified');
  });

  it('a narrow terminal drops disk, then repair, then loss; every line fits', () => {
    const nodes = [node('node01', 'live', 0.5, 10)];
    const header = (columns: number): string => renderTable(summary, nodes, { columns, rows: 10 })[1]!;
    expect(header(60)).toBe('node     state      done   MB/s  loss repair   disk limit');
    expect(header(55)).toBe('node     state      done   MB/s  loss repair limit');
    expect(header(48)).toBe('node     state      done   MB/s  loss limit');
    expect(header(40)).toBe('node     state      done   MB/s limit');
    for (const c of [30, 40, 50, 60]) for (const l of renderTable(summary, nodes, { columns: c, rows: 10 })) expect(l.length).toBeLessThan(c);
  });
});
