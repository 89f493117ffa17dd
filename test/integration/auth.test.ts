// --key-file and --encrypt with the built CLIs on loopback multicast: real processes, real
// sockets. A keyed transfer verifies in both modes (and in encrypt mode the image never
// appears on the wire); receivers without the key, with another key or in the other mode
// hear nothing they can use and give up with one line; a keyless host that listens to the
// session and sprays forgeries and replays does not disturb it, and every forgery is
// counted as a drop by the sealed sockets (common/auth/sealed-socket.ts).

import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthMode, AuthStats } from '../../common/auth/seal.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  LOOPBACK,
  newSession,
  Processes,
  parseJsonReport,
  partFiles,
  RECEIVER_CLI,
  type ReceiverReport,
  type RunResult,
  receiverNetArgs,
  SENDER_CLI,
  type SenderReport,
  type Session,
  senderNetArgs,
  senderThenReceivers,
  sha256File,
  sleep,
  stderrLines,
} from './helpers.js';

const MiB = 1 << 20;
/** Receivers bind and join before the sender announces. */
const RECEIVER_HEAD_START_MS = 300;
const SPRAY_SEALED_SCRIPT = fileURLToPath(new URL('./spray-sealed.mjs', import.meta.url));
/** Written every 1 KiB of the test image: a block that crossed the wire in the clear shows it. */
const MARKER = Buffer.from('RACKCAST-CONFIDENTIAL-IMAGE-MARKER-7f3a9c', 'latin1');

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

type WithAuth<T> = T & { readonly auth?: AuthStats };

function expectOneLine(r: RunResult): void {
  const lines = stderrLines(r);
  expect(r.stderr.endsWith('\n'), describeRun(r)).toBe(true);
  expect(lines, describeRun(r)).toHaveLength(1);
  expect(lines[0]!.trim().length, describeRun(r)).toBeGreaterThan(0);
}

/** RACKCAST_TEST_IO=dgram|native runs these tests on one UDP path; the CLIs' default otherwise. */
const IO_ARGS = process.env.RACKCAST_TEST_IO === undefined ? [] : ['--io', process.env.RACKCAST_TEST_IO];

/** The key options, and the I/O path when one is asked for: sealing sits on top of either. */
function authArgs(keyFile: string, mode: AuthMode): string[] {
  return [...(mode === 'encrypt' ? ['--key-file', keyFile, '--encrypt'] : ['--key-file', keyFile]), ...IO_ARGS];
}

/**
 * Listens to the data group as any host on the network can, and keeps the first `max`
 * datagrams (then stops reading).
 */
function sniffData(s: Session, max = 400): { readonly got: Buffer[]; close(): Promise<void> } {
  const got: Buffer[] = [];
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  let open = true;
  sock.on('error', () => undefined);
  sock.on('message', (msg) => {
    if (got.length < max) got.push(msg);
  });
  sock.bind(s.portbase, () => sock.addMembership(s.dataGroup, LOOPBACK));
  return {
    got,
    close: () =>
      new Promise<void>((resolve) => {
        if (!open) return resolve();
        open = false;
        sock.close(() => resolve());
      }),
  };
}

describe('--key-file / --encrypt on loopback multicast', () => {
  const procs = new Processes();
  let root = '';
  let image = '';
  let imageSha = '';
  let key = '';
  let otherKey = '';
  let testNo = 0;

  async function testDir(): Promise<string> {
    const d = join(root, `t${++testNo}`);
    await mkdir(d);
    return d;
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rackcast-auth-'));
    image = join(root, 'image.bin');
    const data = randomBytes(16 * MiB);
    for (let off = 0; off + MARKER.byteLength <= data.byteLength; off += 1024) MARKER.copy(data, off);
    await writeFile(image, data);
    imageSha = createHash('sha256').update(data).digest('hex');
    key = join(root, 'rack.key');
    otherKey = join(root, 'other.key');
    await writeFile(key, randomBytes(32), { mode: 0o600 });
    await writeFile(otherKey, randomBytes(32), { mode: 0o600 });
  });

  afterEach(async () => {
    const left = await procs.killLeftovers();
    if (left.length > 0) console.log(`killed leftover processes: ${left.join(', ')}`);
  });

  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it.each<AuthMode>(['mac', 'encrypt'])('%s: a keyed transfer to 2 receivers verifies; the wire shows the image only without --encrypt', async (mode) => {
    const dir = await testDir();
    const s = newSession();
    const sniffer = sniffData(s);
    const receivers = [1, 2].map((i) =>
      procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), ...authArgs(key, mode), '--file', join(dir, `out${i}.img`), '--json']),
    );
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), ...authArgs(key, mode), '--file', image, '--min-receivers', '2', '--json']);

    const [sr, rr] = await senderThenReceivers(sender, receivers);
    await sniffer.close();
    expectExit(sr, 0);
    for (const r of rr) expectExit(r, 0);
    const report = parseJsonReport<WithAuth<SenderReport>>(sr);
    expect(report.digest).toBe(imageSha);
    expect(report.receivers.map((x) => x.state)).toEqual(['verified', 'verified']);
    for (const i of [1, 2]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(imageSha);
    expect(await partFiles(dir)).toEqual([]);

    expect(report.auth, describeRun(sr)).toBeDefined();
    expect(report.auth!.sealed).toBeGreaterThan((16 * MiB) / 9000);
    expect(report.auth!.opened).toBeGreaterThan(0); // JOINs, STATUS, REPORTs
    for (const r of rr) {
      const rep = parseJsonReport<WithAuth<ReceiverReport>>(r);
      expect(rep.auth, describeRun(r)).toBeDefined();
      expect(rep.auth!.opened).toBeGreaterThan((16 * MiB) / 9000);
      expect(rep.auth!.badTag, JSON.stringify(rep.auth)).toBe(0);
    }

    // What any host on the network saw: the image in the clear, or not at all.
    expect(sniffer.got.length).toBeGreaterThan(100);
    const withMarker = sniffer.got.filter((d) => d.indexOf(MARKER) >= 0).length;
    if (mode === 'mac') expect(withMarker).toBeGreaterThan(0);
    else expect(withMarker).toBe(0);
    console.log(
      `${mode}: 16 MiB to 2 receivers in ${(sr.wallMs / 1000).toFixed(2)} s wall; ` +
        `${withMarker} of ${sniffer.got.length} sniffed data datagrams show the image; sender auth ${JSON.stringify(report.auth)}`,
    );
  });

  it.each<AuthMode>(['mac', 'encrypt'])(
    '%s: receivers without the key, with another key or in the other mode get nothing and exit 1 with one line',
    async (mode) => {
      const dir = await testDir();
      const s = newSession();
      const timeouts = ['--start-timeout', '3', '--receive-timeout', '3'];
      const out = (name: string): string => join(dir, `${name}.img`);
      const good = procs.start('receiver-keyed', RECEIVER_CLI, [...receiverNetArgs(s), ...authArgs(key, mode), '--file', out('keyed'), '--json']);
      const bad = [
        procs.start('receiver-no-key', RECEIVER_CLI, [...receiverNetArgs(s), ...IO_ARGS, ...timeouts, '--file', out('no-key'), '--json']),
        procs.start('receiver-other-key', RECEIVER_CLI, [
          ...receiverNetArgs(s),
          ...authArgs(otherKey, mode),
          ...timeouts,
          '--file',
          out('other-key'),
          '--json',
        ]),
        procs.start('receiver-other-mode', RECEIVER_CLI, [
          ...receiverNetArgs(s),
          ...authArgs(key, mode === 'mac' ? 'encrypt' : 'mac'),
          ...timeouts,
          '--file',
          out('other-mode'),
          '--json',
        ]),
      ];
      await sleep(RECEIVER_HEAD_START_MS);
      const sender = procs.start('sender', SENDER_CLI, [
        ...senderNetArgs(s),
        ...authArgs(key, mode),
        '--file',
        image,
        '--min-receivers',
        '1',
        '--max-bitrate',
        '200m',
        '--json',
      ]);

      const [sr, [goodR]] = await senderThenReceivers(sender, [good]);
      const badR = await Promise.all(bad.map((p) => p.result));
      expectExit(sr, 0);
      expectExit(goodR!, 0);
      expect(await sha256File(out('keyed'))).toBe(imageSha);
      const report = parseJsonReport<WithAuth<SenderReport>>(sr);
      const goodId = parseJsonReport<ReceiverReport>(goodR!).receiverId;
      // Only the keyed receiver joined. (The others never found a session to join: the
      // keyless one cannot parse a sealed HELLO either, so the sender hears nothing from them.)
      expect(report.receivers.map((x) => x.id)).toEqual([goodId]);

      for (const r of badR) {
        expectExit(r, 1);
        expectOneLine(r);
        expect(r.stdout.trim(), describeRun(r)).not.toBe('');
        const rep = parseJsonReport<WithAuth<ReceiverReport>>(r);
        expect(rep.ok).toBe(false);
        expect(rep.bytes, describeRun(r)).toBe(0);
        console.log(`${mode}: ${r.name}: exit 1 after ${(r.wallMs / 1000).toFixed(2)} s: ${stderrLines(r)[0]}`);
      }
      for (const name of ['no-key', 'other-key', 'other-mode']) expect(existsSync(out(name)), name).toBe(false);
      expect(await partFiles(dir)).toEqual([]);
      // A keyed receiver that heard only forgeries says what the likely cause is.
      for (const r of badR.slice(1)) {
        const rep = parseJsonReport<WithAuth<ReceiverReport>>(r);
        expect(rep.auth!.opened, JSON.stringify(rep.auth)).toBe(0);
        expect(rep.auth!.badTag, JSON.stringify(rep.auth)).toBeGreaterThan(0);
        expect(stderrLines(r)[0]).toMatch(/authentication/);
      }
    },
  );

  it('a key file that is missing, open to others or too short is a usage error: exit 2, one line naming it', async () => {
    const s = newSession();
    const open = join(root, 'open.key');
    const short = join(root, 'short.key');
    await writeFile(open, randomBytes(32), { mode: 0o644 });
    await chmod(open, 0o644); // whatever the umask
    await writeFile(short, 'fifteen bytes!!', { mode: 0o600 });
    const nowhere = join(root, 'no-such.key');
    const cases: [string, string, string[], string][] = [
      ['sender, missing', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--key-file', nowhere], nowhere],
      ['receiver, missing', RECEIVER_CLI, [...receiverNetArgs(s), '--key-file', nowhere], nowhere],
      ['sender, mode 0644', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--key-file', open, '--encrypt'], open],
      ['receiver, mode 0644', RECEIVER_CLI, [...receiverNetArgs(s), '--key-file', open], open],
      ['receiver, 15 bytes', RECEIVER_CLI, [...receiverNetArgs(s), '--key-file', short], short],
      ['sender, --encrypt without --key-file', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--encrypt'], '--encrypt'],
    ];
    for (const [name, cli, args, mention] of cases) {
      const r = await procs.start(name, cli, args, { timeoutMs: 10_000, stdin: { bytes: new Uint8Array(0) } }).result;
      expectExit(r, 2);
      expectOneLine(r);
      expect(stderrLines(r)[0], describeRun(r)).toContain(mention);
    }
  });

  it.each<AuthMode>(['mac', 'encrypt'])('%s: a keyless host sprays forgeries and replays; both receivers verify and the drops are counted', async (mode) => {
    const dir = await testDir();
    const s = newSession();
    const receivers = [1, 2].map((i) =>
      procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), ...authArgs(key, mode), '--file', join(dir, `out${i}.img`), '--json']),
    );
    // The attacker listens from the start, so it captures HELLOs and JOINs too.
    const spray = procs.start('spray', SPRAY_SEALED_SCRIPT, [String(s.portbase), s.dataGroup, s.rdvGroup]);
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [
      ...senderNetArgs(s),
      ...authArgs(key, mode),
      '--file',
      image,
      '--min-receivers',
      '2',
      '--max-bitrate',
      '150m',
      '--json',
    ]);

    const [sr, rr] = await senderThenReceivers(sender, receivers);
    spray.kill('SIGTERM');
    const sprayR = await spray.result;
    expectExit(sr, 0);
    for (const r of rr) expectExit(r, 0);
    expectExit(sprayR, 0);
    const sprayed = JSON.parse(sprayR.stdout) as { sent: number; captured: number; replays: number; forged: number };
    expect(sprayed.sent).toBeGreaterThan(0);
    expect(sprayed.captured, sprayR.stdout).toBeGreaterThan(0);

    const report = parseJsonReport<WithAuth<SenderReport>>(sr);
    expect(report.receivers.map((x) => x.state)).toEqual(['verified', 'verified']);
    for (const i of [1, 2]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(imageSha);
    expect(await partFiles(dir)).toEqual([]);
    expect(report.auth!.badTag + report.auth!.tooShort, JSON.stringify(report.auth)).toBeGreaterThan(0);
    const auths = rr.map((r) => parseJsonReport<WithAuth<ReceiverReport>>(r).auth!);
    for (const a of auths) {
      expect(a.badTag, JSON.stringify(a)).toBeGreaterThan(0);
      expect(a.replay, JSON.stringify(a)).toBeGreaterThan(0);
    }
    console.log(
      `${mode}: sprayed ${sprayed.sent} (${sprayed.forged} forged, ${sprayed.replays} replays of ${sprayed.captured} captured); ` +
        `receivers auth ${auths.map((a) => JSON.stringify(a)).join(', ')}; sender auth ${JSON.stringify(report.auth)}`,
    );
  });
});
