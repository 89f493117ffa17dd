// --events and the per-node figures of --json, with the real CLIs on loopback: two
// receivers, a transfer paced to last a few seconds so progress lines come, and every line
// checked against the format in the README.
// Assumes `npm run build` has produced dist/ (npm test builds first).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  builtCliMissing,
  expectExit,
  loopbackFixture,
  newSession,
  parseJsonReport,
  RECEIVER_CLI,
  receiverNetArgs,
  SENDER_CLI,
  senderNetArgs,
  senderThenReceivers,
  sleep,
} from './helpers.js';

const missingCli = builtCliMissing();
if (missingCli !== undefined) console.log(`events.test.ts: skipped: ${missingCli}`);

interface EventLine {
  ts: string;
  t: number;
  event: string;
  id?: string;
  address?: string;
  state?: string;
  bytes?: number;
  done?: number;
  MBps?: number;
  loss?: number;
  repair?: number;
  limit?: string;
}

describe.skipIf(missingCli !== undefined)('--events and --json per node, on loopback', () => {
  const fx = loopbackFixture('events', 24 << 20);

  it('join, start, progress, sent, verified, done: one JSON object a line, in order; --json has the same figures', async () => {
    const dir = await fx.testDir();
    const s = newSession();
    const eventsPath = join(dir, 'events.jsonl');
    const rs = [1, 2].map((i) => fx.procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i}.img`)]));
    await sleep(300);
    // 24 MiB at 60 Mbit/s: about 3.4 s, so at least one progress round (every 2 s).
    const sender = fx.procs.start('sender', SENDER_CLI, [
      ...senderNetArgs(s),
      '--file',
      fx.image,
      '--min-receivers',
      '2',
      '--max-bitrate',
      '60m',
      '--events',
      eventsPath,
      '--json',
    ]);
    const [sr, rr] = await senderThenReceivers(sender, rs);
    for (const r of rr) expectExit(r, 0);
    expectExit(sr, 0);
    const lines = (await readFile(eventsPath, 'utf8')).trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as EventLine);
    for (const e of events) {
      expect(Number.isNaN(Date.parse(e.ts))).toBe(false);
      expect(e.t).toBeGreaterThanOrEqual(0);
    }
    for (let i = 1; i < events.length; i++) expect(events[i]!.t).toBeGreaterThanOrEqual(events[i - 1]!.t);
    const kinds = events.map((e) => e.event);
    expect(kinds.slice(0, 3)).toEqual(['join', 'join', 'start']);
    expect(kinds.slice(-4)).toEqual(['sent', 'verified', 'verified', 'done']);
    const ids = events.filter((e) => e.event === 'join').map((e) => e.id);
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length, lines.join('\n')).toBeGreaterThanOrEqual(2);
    for (const p of progress) {
      expect(ids).toContain(p.id);
      expect(p.state).toBe('live');
      expect(p.done).toBeGreaterThan(0);
      expect(p.done).toBeLessThanOrEqual(1);
      expect(p.MBps).toBeGreaterThan(0);
      expect(p.loss).toBeGreaterThanOrEqual(0);
      expect(['net', 'disk', 'decomp', 'cpu']).toContain(p.limit);
    }
    const report = parseJsonReport<{ receivers: (EventLine & { seconds: number })[] }>(sr);
    for (const r of report.receivers) {
      expect(r.state).toBe('verified');
      expect(r.bytes).toBe(24 << 20);
      expect(r.done).toBe(1);
      expect(r.seconds).toBeGreaterThan(0);
      // The average over the transfer: the bytes over its seconds, rounded to 10 kB/s.
      expect(r.MBps).toBeCloseTo((r.bytes ?? 0) / 1e6 / r.seconds, 1);
    }
    console.log(
      `--events: ${lines.length} lines (${progress.length} progress); e.g.\n${[lines[0], lines[kinds.indexOf('progress')], lines.at(-2)].join('\n')}`,
    );
  });

  it('--events - writes the lines to stdout, before the --json report', async () => {
    const dir = await fx.testDir();
    const s = newSession();
    const r = fx.procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, 'out.img')]);
    await sleep(300);
    const sender = fx.procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', fx.image, '--min-receivers', '1', '--events', '-', '--json']);
    const [sr, [rr]] = await senderThenReceivers(sender, [r]);
    expectExit(rr!, 0);
    expectExit(sr, 0);
    const out = sr.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out.slice(0, -1).map((e) => e.event)).toEqual(['join', 'start', 'sent', 'verified', 'done']);
    expect(out.at(-1)!.ok).toBe(true);
  });
});
