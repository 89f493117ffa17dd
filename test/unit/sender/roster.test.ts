// --hosts and --start-timeout: the hosts file as the CLI reads it (sender/hosts-file.ts),
// and the sender core with a roster (sender/core/roster.ts, announce.ts): who may join,
// when the session starts, who never showed up, and giving up on a start that never comes.
// Receivers 0..2 are 198.18.0.11..13 (test/support/cores.ts).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../common/errors.js';
import { MessageType } from '../../../protocol/header.js';
import { DROP_ALL } from '../../../protocol/messages/drop.js';
import { Outcome } from '../../../protocol/messages/report.js';
import { Reason } from '../../../protocol/reasons.js';
import { parseSenderArgs } from '../../../sender/args.js';
import { type RosterHost, type SenderConfig, SenderCore } from '../../../sender/core.js';
import { loadHosts, parseHosts } from '../../../sender/hosts-file.js';
import { pattern } from '../../support/bytes.js';
import { senderConfig as cfg, drainEvents, drainSender, only, types } from '../../support/cores.js';
import { joinBytes, rcv, reportBytes, SESSION, statusBytes } from '../../support/datagrams.js';

describe('hosts file', () => {
  it('takes names, IPv4 addresses and MACs, one a line, with comments and blank lines', () => {
    const text = ['# rack 7', 'node01', '', '  198.18.0.12   # by address', 'AA-BB-CC-00-11-22', 'node04.rack7.example'].join('\n');
    expect(parseHosts(text, 'h')).toEqual([
      { line: 2, kind: 'name', value: 'node01' },
      { line: 4, kind: 'address', value: '198.18.0.12' },
      { line: 5, kind: 'mac', value: 'aa:bb:cc:00:11:22' },
      { line: 6, kind: 'name', value: 'node04.rack7.example' },
    ]);
  });

  it.each([
    ['two hosts on a line', 'node01\nnode02 node03\n', /line 2: one host per line, got "node02 node03"/],
    ['a bad address', 'node01\n\n198.18.0.300\n', /line 3: not an IPv4 address: "198.18.0.300"/],
    ['a multicast address', '239.1.2.3\n', /line 1: not a host's address: "239.1.2.3"/],
    ['not a name', 'node_01\n', /line 1: not a host name, IPv4 address or MAC: "node_01"/],
    ['a short MAC', 'aa:bb:cc:dd:ee\n', /line 1: not a host name, IPv4 address or MAC: "aa:bb:cc:dd:ee"/],
    ['a host twice', 'Node01\n# again\nnode01\n', /line 3: node01 is already on line 1/],
    ['the same MAC written twice', 'aa:bb:cc:dd:ee:ff\nAA-BB-CC-DD-EE-FF\n', /line 2: AA-BB-CC-DD-EE-FF is already on line 1/],
    ['no host at all', '# nothing\n\n', /lists no hosts/],
  ])('refuses %s, naming the file and the line', (_name, text, want) => {
    expect(() => parseHosts(text, 'rack.hosts')).toThrow(UsageError);
    expect(() => parseHosts(text, 'rack.hosts')).toThrow(/^--hosts rack.hosts: /);
    expect(() => parseHosts(text, 'rack.hosts')).toThrow(want);
  });

  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(joinPath(tmpdir(), 'rackcast-hosts-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves names to their IPv4 addresses; an unresolvable name or two lines with one address are refused with the line', async () => {
    const f = joinPath(dir, 'rack');
    const dns: Record<string, string[]> = { node01: ['198.18.0.11'], alias: ['198.18.0.12'], both: ['198.18.0.13', '198.18.0.14'] };
    const resolve = async (n: string): Promise<string[]> => {
      const a = dns[n];
      if (a === undefined) throw new Error(`getaddrinfo ENOTFOUND ${n}`);
      return a;
    };
    await writeFile(f, 'node01\nboth\naa:bb:cc:dd:ee:ff\n198.18.0.20\n');
    expect(await loadHosts(f, resolve)).toEqual<RosterHost[]>([
      { name: 'node01', addresses: ['198.18.0.11'], mac: undefined },
      { name: 'both', addresses: ['198.18.0.13', '198.18.0.14'], mac: undefined },
      { name: 'aa:bb:cc:dd:ee:ff', addresses: [], mac: 'aa:bb:cc:dd:ee:ff' },
      { name: '198.18.0.20', addresses: ['198.18.0.20'], mac: undefined },
    ]);
    await writeFile(f, 'node01\nnode99\n');
    await expect(loadHosts(f, resolve)).rejects.toThrow(/line 2: cannot resolve node99: getaddrinfo ENOTFOUND node99/);
    await writeFile(f, 'alias\n198.18.0.12\n');
    await expect(loadHosts(f, resolve)).rejects.toThrow(/line 2: 198.18.0.12 is 198.18.0.12, as is line 1 \(alias\)/);
    await expect(loadHosts(joinPath(dir, 'nope'), resolve)).rejects.toThrow(/--hosts .*nope: ENOENT/);
  });

  it('--hosts excludes --min-receivers and --async; it is a start condition of its own', () => {
    expect(() => parseSenderArgs(['--file', '/dev/null', '--hosts', 'h', '--min-receivers', '2'], false)).toThrow(/exclude each other/);
    expect(() => parseSenderArgs(['--file', '/dev/null', '--hosts', 'h', '--async', '--fec', '8x4/32', '--max-bitrate', '1m'], false)).toThrow(
      /--hosts needs a return channel/,
    );
    expect(parseSenderArgs(['--file', '/dev/null', '--nokbd', '--hosts', 'h'], false).hostsFile).toBe('h');
    expect(() => parseSenderArgs(['--file', '/dev/null', '--start-timeout', '5', '--async', '--fec', '8x4/32', '--max-bitrate', '1m'], false)).toThrow(
      /--start-timeout needs a return channel/,
    );
    expect(parseSenderArgs(['--file', '/dev/null', '--min-receivers', '1', '--start-timeout', '2.5'], false).core.startTimeoutMs).toBe(2500);
  });
});

const HOSTS: RosterHost[] = [
  { name: 'node-a', addresses: [rcv(0).from.address], mac: undefined },
  { name: 'node-b', addresses: [rcv(1).from.address], mac: undefined },
];

function from(i: number, bytes: Uint8Array) {
  return { kind: 'datagram' as const, from: rcv(i).from, bytes };
}

function announcing(over: Partial<SenderConfig>): SenderCore {
  const core = new SenderCore(cfg(over), 0);
  core.handleTimeout(0);
  drainSender(core, 0);
  return core;
}

describe('SenderCore with --hosts', () => {
  it('starts once every listed host joined, and refuses a receiver of no listed host', () => {
    const core = announcing({ roster: HOSTS, minWaitMs: 30 });
    core.handle(from(0, joinBytes({ receiverId: rcv(0).id })), 5);
    core.handle(from(2, joinBytes({ receiverId: rcv(2).id })), 6);
    let sent = drainSender(core, 6);
    expect(types(sent)).toEqual(['ACCEPT', 'DROP']);
    expect(only(sent, MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(2).id, reason: Reason.NotListed }]);
    expect(core.stats.joinsRefused).toBe(1);
    expect(core.hostsJoined()).toBe(1);
    // One host of two: no deadline to start by.
    expect(core.pollTimeout()).toBe(1000); // the next HELLO
    core.handle(from(1, joinBytes({ receiverId: rcv(1).id })), 20);
    expect(core.hostsJoined()).toBe(2);
    // Both here: --min-wait counts from the first JOIN (5 + 30).
    expect(core.pollTimeout()).toBe(35);
    expect(types(drainSender(core, 20))).toEqual(['ACCEPT']);
    core.handleTimeout(35);
    sent = drainSender(core, 35);
    expect(types(sent)).toEqual(['START', 'START', 'START']);
    expect(drainEvents(core).map((e) => [e.kind, 'host' in e ? e.host : undefined])).toEqual([
      ['joined', 'node-a'],
      ['joined', 'node-b'],
      ['started', undefined],
    ]);
    expect(core.receiverList().map((r) => r.host)).toEqual(['node-a', 'node-b']);
  });

  it('starts at --max-wait without a missing host, and fails the session for it even though every receiver verified', () => {
    const core = announcing({ roster: HOSTS, maxWaitMs: 100, imageBytes: 400 });
    core.handle(from(1, joinBytes({ receiverId: rcv(1).id })), 10);
    drainSender(core, 10);
    expect(core.pollTimeout()).toBe(110);
    core.handleTimeout(109);
    expect(core.currentPhase).toBe('announcing');
    core.handleTimeout(110);
    expect(core.currentPhase).toBe('transferring');
    core.handle({ kind: 'slice', bytes: pattern(400) }, 111);
    core.handle({ kind: 'eof', digest: pattern(32, 9) }, 111);
    drainSender(core, 111);
    core.handle(from(1, statusBytes({ receiverId: rcv(1).id, seenSeq: 4, deliveredSlices: 1, flags: 2 })), 112);
    core.handle(from(1, reportBytes({ receiverId: rcv(1).id, outcome: Outcome.Verified, bytesWritten: 400 })), 113);
    expect(core.currentPhase).toBe('done');
    expect(core.receiverList().map((r) => r.state)).toEqual(['verified']);
    expect(core.hostList().map((h) => [h.host.name, h.receiverIds])).toEqual([
      ['node-a', []],
      ['node-b', [rcv(1).id]],
    ]);
    expect(core.succeeded).toBe(false);
  });
});

describe('SenderCore --start-timeout', () => {
  it('gives up at exactly startTimeoutMs after start-up: every joined receiver is told, the session fails', () => {
    const core = announcing({ minReceivers: 3, startTimeoutMs: 300 });
    core.handle(from(0, joinBytes({ receiverId: rcv(0).id })), 50);
    drainSender(core, 50);
    drainEvents(core);
    expect(core.pollTimeout()).toBe(300);
    core.handleTimeout(299);
    expect(core.currentPhase).toBe('announcing');
    expect(drainSender(core, 299)).toEqual([]);
    core.handleTimeout(300);
    expect(core.currentPhase).toBe('done');
    const sent = drainSender(core, 300);
    expect(types(sent)).toEqual(['DROP', 'DROP', 'DROP']);
    expect(only(sent, MessageType.Drop)[0]).toEqual({ sessionId: SESSION, receiverId: DROP_ALL, reason: Reason.StartTimeout });
    expect(drainEvents(core)).toEqual([
      { kind: 'startTimedOut', receivers: 1 },
      { kind: 'done', ok: false },
    ]);
    expect(core.receiverList().map((r) => [r.state, r.reason])).toEqual([['failed', Reason.StartTimeout]]);
    expect(core.pollTimeout()).toBeUndefined();
    expect(core.stats.dataPackets).toBe(0);
  });

  it('with nobody joined, still gives up (the start deadline is not armed, the give-up one is)', () => {
    const core = announcing({ minReceivers: 1, startTimeoutMs: 1500, helloIntervalMs: 1000 });
    expect(core.pollTimeout()).toBe(1000);
    core.handleTimeout(1000);
    drainSender(core, 1000);
    expect(core.pollTimeout()).toBe(1500);
    core.handleTimeout(1500);
    expect(core.currentPhase).toBe('done');
    expect(core.succeeded).toBe(false);
  });

  it('does not fire once the session started', () => {
    const core = announcing({ minReceivers: 1, startTimeoutMs: 300, imageBytes: 400 });
    core.handle(from(0, joinBytes({ receiverId: rcv(0).id })), 50);
    expect(core.currentPhase).toBe('transferring');
    core.handleTimeout(400);
    expect(core.currentPhase).toBe('transferring');
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['joined', 'started']);
  });
});
