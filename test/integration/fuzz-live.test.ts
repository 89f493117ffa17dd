// Hostile datagrams at a running transfer of the real CLIs on loopback multicast (the
// processes' side of test/sim/fuzz/). spray-mutants.mjs listens to the session first, so
// its mutations carry the real session id and the real receivers' ids and get past the
// session check:
//   foreign  from 127.0.0.2, another address than every peer's: all mutations, valid or not
//   same     from 127.0.0.1, the peers' own address: only what the decoders or the session's
//            geometry reject (a valid datagram from a peer's address is that peer, without
//            --key-file; see the script's header)
// Both receivers must verify a byte-identical image, the sender must list both verified,
// and the drops must be counted by reason. Assumes `npm run build` (npm test builds first).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faultSession } from './fault-helpers.js';
import {
  builtCliMissing,
  expectExit,
  Processes,
  parseJsonReport,
  partFiles,
  RECEIVER_CLI,
  type ReceiverReport,
  receiverNetArgs,
  SENDER_CLI,
  type SenderReport,
  senderNetArgs,
  senderThenReceivers,
  sha256File,
  sleep,
  sumCounts,
  writeRandomFile,
} from './helpers.js';

const SPRAY_MUTANTS = fileURLToPath(new URL('./spray-mutants.mjs', import.meta.url));
const MiB = 1 << 20;
const RECEIVER_HEAD_START_MS = 300;
const DECODE_CODES = ['ERR_TRUNCATED', 'ERR_BAD_LENGTH', 'ERR_BAD_MAGIC', 'ERR_BAD_VERSION', 'ERR_BAD_TYPE', 'ERR_BAD_FIELD'];

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

interface SprayReport {
  readonly mode: string;
  readonly session: string | null;
  readonly receiverIds: readonly string[];
  readonly heard: Record<string, number>;
  readonly sent: number;
  readonly filtered: number;
  readonly errors: number;
  readonly byKind: Record<string, number>;
  readonly byType: Record<string, number>;
}

describe('mutated datagrams of every type sprayed at a running transfer', () => {
  const procs = new Processes();
  let root = '';
  let image = '';
  let imageSha = '';
  let n = 0;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rackcast-fuzz-live-'));
    image = join(root, 'image.bin');
    imageSha = await writeRandomFile(image, 32 * MiB);
  });

  afterEach(async () => {
    const left = await procs.killLeftovers();
    if (left.length > 0) console.log(`killed leftover processes: ${left.join(', ')}`);
  });

  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it.each(['foreign', 'same'] as const)('from %s address: both receivers verify, nothing sprayed gets in, drops are counted by reason', async (mode) => {
    const dir = join(root, `t${++n}`);
    await mkdir(dir);
    const s = faultSession();
    const receivers = [1, 2].map((i) =>
      procs.start(`receiver${i}`, RECEIVER_CLI, [...receiverNetArgs(s), '--file', join(dir, `out${i}.img`), '--json', '--log', join(dir, `r${i}.log`)]),
    );
    // The sprayer listens before the sender starts, to hear HELLO and START on the group.
    // JOIN, STATUS and REPORT go to the sender alone, so the receivers' ids reach it through
    // a file this test writes from the receivers' logs once they are accepted.
    const idsFile = join(dir, 'ids.txt');
    const spray = procs.start('spray', SPRAY_MUTANTS, [String(s.portbase), s.dataGroup, s.rdvGroup, mode, String(0x5eed + n), idsFile], { timeoutMs: 90_000 });
    let idsWritten = false;
    const idsPoll = setInterval(() => {
      if (idsWritten) return;
      const ids = [1, 2].flatMap((i) => {
        const log = join(dir, `r${i}.log`);
        if (!existsSync(log)) return [];
        const m = /"evt":"accepted","rcv":"([0-9a-f]+)"/.exec(readFileSync(log, 'utf8'));
        return m === null ? [] : [m[1]!];
      });
      if (ids.length === 2) {
        writeFileSync(idsFile, `${ids.join('\n')}\n`);
        idsWritten = true;
      }
    }, 20);
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--file', image, '--min-receivers', '2', '--max-bitrate', '200m', '--json']);

    const [sr, rr] = await senderThenReceivers(sender, receivers);
    clearInterval(idsPoll);
    spray.kill('SIGTERM');
    const sprayR = await spray.result;
    expectExit(sprayR, 0);
    const sprayed = JSON.parse(sprayR.stdout) as SprayReport;
    expectExit(sr, 0);
    for (const r of rr) expectExit(r, 0);

    const report = parseJsonReport<SenderReport>(sr);
    const reps = rr.map((r) => parseJsonReport<ReceiverReport>(r));
    expect(report.receivers.map((x) => x.state)).toEqual(['verified', 'verified']);
    for (const i of [1, 2]) expect(await sha256File(join(dir, `out${i}.img`))).toBe(imageSha);
    expect(await partFiles(dir)).toEqual([]);

    // The sprayer knew the session and the receivers, and sent every type.
    expect(sprayed.session, JSON.stringify(sprayed)).not.toBeNull();
    for (const rep of reps) expect(sprayed.receiverIds).toContain(rep.receiverId.replace(/^0+/, ''));
    expect(sprayed.sent).toBeGreaterThan(500);
    for (const name of ['HELLO', 'JOIN', 'ACCEPT', 'START', 'DATA', 'NAK', 'STATUS', 'REQACK', 'END', 'REPORT', 'REPORT_ACK', 'LEAVE', 'DROP']) {
      expect(sprayed.byType[name] ?? 0, `${name} in ${JSON.stringify(sprayed.byType)}`).toBeGreaterThan(0);
    }

    // Drops by reason, at both ends.
    const rdrops: Record<string, number> = {};
    for (const rep of reps) for (const [k, v] of Object.entries(rep.stats.drops)) rdrops[k] = (rdrops[k] ?? 0) + v;
    const sdrops = report.stats.drops;
    for (const code of DECODE_CODES) expect(rdrops[code] ?? 0, `receivers' ${code}: ${JSON.stringify(rdrops)}`).toBeGreaterThan(0);
    if (mode === 'foreign') {
      // Valid datagrams with the real session id, from the wrong address.
      expect(rdrops.ERR_WRONG_SENDER ?? 0, JSON.stringify(rdrops)).toBeGreaterThan(0);
      expect((sdrops.ERR_FOREIGN_ADDRESS ?? 0) + (sdrops.ERR_UNKNOWN_RECEIVER ?? 0), JSON.stringify(sdrops)).toBeGreaterThan(0);
    } else {
      expect(sprayed.filtered).toBeGreaterThan(0);
      expect(rdrops.ERR_WRONG_SENDER ?? 0).toBe(0);
    }
    expect(sumCounts(sdrops)).toBeGreaterThan(0);
    console.log(
      `live fuzz, ${mode}: sprayed ${sprayed.sent} (${sprayed.filtered} valid ones held back) at session ${sprayed.session}, ` +
        `by kind ${JSON.stringify(sprayed.byKind)}; receivers dropped ${JSON.stringify(rdrops)}, sender dropped ${JSON.stringify(sdrops)}`,
    );
  });
});
