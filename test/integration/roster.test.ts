// --hosts and --start-timeout with the real CLIs. On loopback: a roster of this machine
// (localhost) and a host that never comes, and a sender whose start never comes. As root,
// in a namespaced rack: 5 hosts listed, 4 receivers started; the transfer starts at
// --max-wait, the 4 verify, the table names the missing host and the sender exits 1.
// Assumes `npm run build` has produced dist/ (npm test builds first).

import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLabLock, createRack, type LabLock, labSkipReason, parseLastJson, type Rack } from '../../bench/lab.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  loopbackFixture,
  newSession,
  parseJsonReport,
  RECEIVER_CLI,
  receiverNetArgs,
  SENDER_CLI,
  type SenderReport,
  senderNetArgs,
  senderThenReceivers,
  sha256File,
  sleep,
  stderrLines,
} from './helpers.js';

const missingCli = builtCliMissing();
if (missingCli !== undefined) console.log(`roster.test.ts: skipped: ${missingCli}`);

describe.skipIf(missingCli !== undefined)('--hosts and --start-timeout on loopback', () => {
  const fx = loopbackFixture('roster', 4 << 20);

  it('a listed host that never joins: the transfer starts at --max-wait, the table names it, the sender exits 1', async () => {
    const dir = await fx.testDir();
    const hosts = join(dir, 'rack.hosts');
    await writeFile(hosts, '# this machine, and one that is switched off\nlocalhost\n198.18.0.99\n');
    const s = newSession();
    const out = join(dir, 'out.img');
    const r = fx.procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--file', out]);
    await sleep(300);
    const sender = fx.procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', fx.image, '--hosts', hosts, '--max-wait', '1', '--json']);
    const [sr, [rr]] = await senderThenReceivers(sender, [r]);
    expectExit(rr!, 0);
    expectExit(sr, 1);
    expect(await sha256File(out)).toBe(fx.imageSha);
    const lines = stderrLines(sr);
    const header = lines.findIndex((l) => /^host\s+receiver\s+address/.test(l));
    expect(header, describeRun(sr)).toBeGreaterThanOrEqual(0);
    expect(lines[header + 1]).toMatch(/^localhost\s+[0-9a-f]{8}\s+127\.0\.0\.1\s+4194304\s+verified/);
    expect(lines[header + 2]).toMatch(/^198\.18\.0\.99\s+-\s+198\.18\.0\.99\s+0\s+missing\s+never joined$/);
    expect(lines).toContain('udp-sender: 1 of 2 hosts never joined: 198.18.0.99');
    const report = parseJsonReport<SenderReport & { hosts: { name: string; state: string }[] }>(sr);
    expect(report.ok).toBe(false);
    expect(report.hosts.map((h) => [h.name, h.state])).toEqual([
      ['localhost', 'verified'],
      ['198.18.0.99', 'missing'],
    ]);
  });

  it('a receiver of no listed host is refused with one line and exits 1; the listed host never came, so --start-timeout ends the sender', async () => {
    const dir = await fx.testDir();
    const hosts = join(dir, 'rack.hosts');
    await writeFile(hosts, '198.18.0.98\n');
    const s = newSession();
    const r = fx.procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, 'out.img')]);
    await sleep(300);
    const sender = fx.procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', fx.image, '--hosts', hosts, '--start-timeout', '2']);
    const [sr, [rr]] = await senderThenReceivers(sender, [r]);
    expectExit(rr!, 1);
    expect(stderrLines(rr!)).toEqual(["udp-receiver: failed: dropped by the sender: not on the sender's --hosts list"]);
    expect(existsSync(join(dir, 'out.img'))).toBe(false);
    expectExit(sr, 1);
    expect(stderrLines(sr)).toContain('udp-sender: --start-timeout: the transfer did not start: 0 of 1 hosts joined; nothing was sent');
  });

  it('--start-timeout: nobody comes; the sender exits 1 with one line, on time', async () => {
    const s = newSession();
    const sender = fx.procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', fx.image, '--min-receivers', '2', '--start-timeout', '1']);
    const sr = await sender.result;
    expectExit(sr, 1);
    expect(sr.wallMs).toBeLessThan(6000);
    expect(stderrLines(sr)[0]).toBe('udp-sender: --start-timeout: the transfer did not start: 0 receiver(s) of --min-receivers 2 joined; nothing was sent');
  });

  it('a bad hosts file is refused with its line number, exit 2', async () => {
    const dir = await fx.testDir();
    const hosts = join(dir, 'bad.hosts');
    await writeFile(hosts, 'node01\nnode02 extra\n');
    const sender = fx.procs.start('sender', SENDER_CLI, [...senderNetArgs(newSession()), '--file', fx.image, '--hosts', hosts]);
    const sr = await sender.result;
    expectExit(sr, 2);
    expect(stderrLines(sr)).toEqual([`udp-sender: --hosts ${hosts}: line 2: one host per line, got "node02 extra"`]);
  });
});

const labSkip = labSkipReason() ?? missingCli;
if (labSkip !== undefined) console.log(`roster.test.ts (namespaced rack): skipped: ${labSkip}`);

describe.skipIf(labSkip !== undefined)('--hosts in a namespaced rack: 5 hosts listed, 4 started', () => {
  let lock: LabLock | undefined;
  let rack: Rack | undefined;
  let dir = '';

  beforeAll(async () => {
    lock = await acquireLabLock({ waitSeconds: 540 });
    rack = await createRack({ receivers: 5, lossPermille: 10 });
    dir = await mkdtemp(join(tmpdir(), 'rackcast-roster-'));
  }, 600_000);

  afterAll(async () => {
    try {
      await rack?.destroy();
    } finally {
      await lock?.release();
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('starts at --max-wait, the 4 verify, the table names the 5th as missing, exit 1', async () => {
    const r = rack!;
    const image = join(dir, 'image.bin');
    await writeFile(image, Buffer.alloc(8 << 20, 0x5a));
    const hosts = join(dir, 'rack.hosts');
    await writeFile(hosts, ['# rack under test', ...r.receiverAddrs].join('\n') + '\n');
    const started = r.receiverNs.slice(0, 4);
    const receivers = started.map((ns, i) =>
      r.run(ns, [process.execPath, RECEIVER_CLI, '--file', join(dir, `out-${i + 1}.bin`), '--interface', r.receiverAddrs[i]!], { timeoutMs: 60_000 }),
    );
    await sleep(500);
    const sender = await r.run(
      r.senderNs,
      [process.execPath, SENDER_CLI, '--file', image, '--nokbd', '--hosts', hosts, '--max-wait', '2', '--interface', r.senderAddr, '--json'],
      { timeoutMs: 60_000 },
    );
    const rs = await Promise.all(receivers);
    const describe = (name: string, x: { code: number | null; stderr: string }): string => `${name}: exit ${x.code}\n${x.stderr}`;
    for (const [i, x] of rs.entries()) expect(x.code, describe(`receiver ${i + 1}`, x)).toBe(0);
    expect(sender.code, describe('sender', sender)).toBe(1);
    const lines = sender.stderr.split('\n');
    const missingAddr = r.receiverAddrs[4]!;
    expect(
      lines.some((l) =>
        new RegExp(`^${missingAddr.replace(/\./g, '\\.')}\\s+-\\s+${missingAddr.replace(/\./g, '\\.')}\\s+0\\s+missing\\s+never joined$`).test(l),
      ),
      sender.stderr,
    ).toBe(true);
    expect(lines).toContain(`udp-sender: 1 of 5 hosts never joined: ${missingAddr}`);
    for (const a of r.receiverAddrs.slice(0, 4))
      expect(
        lines.some((l) => l.startsWith(a) && /\sverified/.test(l)),
        sender.stderr,
      ).toBe(true);
    console.log(`5 hosts listed, 4 started:\n${lines.filter((l) => !l.startsWith('udp-sender: UDP')).join('\n')}`);
    const report = parseLastJson(sender.stdout) as { hosts: { name: string; state: string }[] } | undefined;
    expect(report?.hosts.map((h) => h.state)).toEqual(['verified', 'verified', 'verified', 'verified', 'missing']);
  }, 180_000);
});
