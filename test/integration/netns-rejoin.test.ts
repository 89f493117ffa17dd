// A lost IGMP join on a snooping switch (root only). The rack's bridge snoops IGMP and is
// the querier (bench/lab.ts `snooping`), so it forwards a group only to the ports whose
// report it heard, and its own queries (which would make every host report again) are put
// off past the test. Receiver 1 joins the rendezvous group normally; then its outgoing IGMP
// is dropped (nftables in its namespace) before the sender starts, so its report for the
// data group, sent when HELLO names it, never reaches the bridge. It hears every HELLO and
// REQACK and none of the DATA, which goes to receiver 2 alone. Three seconds in, the drop
// rule goes: only a new report can bring the DATA now. The receiver's data watch
// (receiver/core/data-watch.ts) joins the group again every 2 s while the sender asks about
// DATA it never saw; the first join after the rule is gone is heard, and both verify.
// Without the watch receiver 1 would starve until the sender dropped it.
// Needs root and ip/nft; skipped otherwise (reason printed). Assumes `npm run build`.

import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acquireLabLock,
  createRack,
  type LabLock,
  labSkipReason,
  parseLastJson,
  type Rack,
  SNOOPING_SETTLE_S,
  sha256File,
  writeRandomFile,
} from '../../bench/lab.js';
import { DEFAULT_RDV_GROUP } from '../../sender/args.js';
import { sleep, waitFor } from '../support/wait.js';

const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
const RECEIVER_CLI = fileURLToPath(new URL('../../dist/receiver/cli.js', import.meta.url));
const MiB = 1 << 20;
const IMAGE_BYTES = 16 * MiB;
/** The receivers have this long to join the rendezvous group (process start included). */
const RDV_JOIN_WAIT_MS = 20_000;
/** How long receiver 1's IGMP stays dropped after the sender starts. */
const BLOCKED_MS = 3000;
const RUN_TIMEOUT_MS = 60_000;
const NFT_TABLE = 'rackcast_rejoin';

const skipReason = labSkipReason();
if (skipReason !== undefined) console.log(`netns-rejoin.test.ts: skipped: ${skipReason}`);

/** How often waitFor looks again. */
const POLL_MS = 50;

/** Ports the bridge forwards the rendezvous group to (what it snooped). */
function rdvPorts(bridge: string): number {
  const out = spawnSync('bridge', ['mdb', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter((l) => l.includes(`grp ${DEFAULT_RDV_GROUP} `) || l.endsWith(`grp ${DEFAULT_RDV_GROUP}`)).length;
}

function nft(ns: string, args: string[]): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')} in ${ns}: ${r.stderr.trim()}`);
}

describe.skipIf(skipReason !== undefined)('a receiver whose data-group join was lost on a snooping bridge', () => {
  let lock: LabLock | undefined;
  let rack: Rack | undefined;
  let dir = '';

  beforeAll(async () => {
    lock = await acquireLabLock({ waitSeconds: 540 });
    rack = await createRack({ receivers: 2, snooping: true });
    dir = await mkdtemp(join(tmpdir(), 'rackcast-netns-rejoin-'));
    // The bridge forwards by what it snooped only once its first query's response time is over.
    await sleep(SNOOPING_SETTLE_S * 1000 + 500);
  }, 600_000);

  afterAll(async () => {
    try {
      await rack?.destroy(); // the namespaces go, and the nft table in one with them
    } finally {
      await lock?.release();
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it(
    'joins the data group again until the DATA comes, and verifies; the other receiver never needed to',
    async () => {
      const r = rack!;
      const image = join(dir, 'image.bin');
      await writeRandomFile(image, IMAGE_BYTES);
      const expected = await sha256File(image);
      const outs = [join(dir, 'out1'), join(dir, 'out2')];
      const logs = [join(dir, 'receiver1.log'), join(dir, 'receiver2.log')];
      const receivers = outs.map((out, i) =>
        r.run(r.receiverNs[i]!, [process.execPath, RECEIVER_CLI, '--file', out, '--interface', r.receiverAddrs[i]!, '--json', '--log', logs[i]!], {
          timeoutMs: RUN_TIMEOUT_MS,
        }),
      );
      // Both joined the rendezvous group (the bridge heard both reports; a slow start must not
      // have its report dropped too, or it would never hear HELLO); from now on receiver 1's are lost.
      const joined = await waitFor(() => rdvPorts(r.bridge) >= 2, RDV_JOIN_WAIT_MS, POLL_MS);
      expect(joined, `the bridge did not hear both receivers join ${DEFAULT_RDV_GROUP} within ${RDV_JOIN_WAIT_MS} ms`).toBe(true);
      const blocked = r.receiverNs[0]!;
      nft(blocked, ['add', 'table', 'ip', NFT_TABLE]);
      nft(blocked, ['add', 'chain', 'ip', NFT_TABLE, 'out', '{ type filter hook output priority 0 ; }']);
      nft(blocked, ['add', 'rule', 'ip', NFT_TABLE, 'out', 'ip', 'protocol', 'igmp', 'counter', 'drop']);
      const sender = r.run(
        r.senderNs,
        [
          process.execPath,
          SENDER_CLI,
          '--file',
          image,
          '--nokbd',
          '--min-receivers',
          '2',
          '--interface',
          r.senderAddr,
          '--json',
          '--retries-until-drop',
          '1000',
        ],
        {
          timeoutMs: RUN_TIMEOUT_MS,
        },
      );
      await sleep(BLOCKED_MS);
      const dropped = spawnSync('ip', ['netns', 'exec', blocked, 'nft', 'list', 'table', 'ip', NFT_TABLE], { encoding: 'utf8' }).stdout;
      nft(blocked, ['delete', 'table', 'ip', NFT_TABLE]);
      const [s, ...rs] = await Promise.all([sender, ...receivers]);
      const why = [`sender: exit ${s.code}\n${s.stderr.slice(-1500)}`, ...rs.map((x, i) => `receiver ${i + 1}: exit ${x.code}\n${x.stderr.slice(-1500)}`)].join(
        '\n',
      );

      // The rule did drop receiver 1's report for the data group (and nothing else held the DATA back).
      expect(dropped, why).toMatch(/counter packets [1-9]/);
      expect(s.code, why).toBe(0);
      for (const [i, x] of rs.entries()) {
        expect(x.code, why).toBe(0);
        expect(await sha256File(outs[i]!), why).toBe(expected);
      }
      const stats = rs.map((x) => (parseLastJson(x.stdout) as { stats: { dataRejoins: number; dataPackets: number } }).stats);
      // Receiver 1 joined again (once or more: how many fell while it was blocked depends on
      // how long the sender took to start), and receiver 2 never.
      expect(stats[0]!.dataRejoins, why).toBeGreaterThanOrEqual(1);
      expect(stats[1]!.dataRejoins, why).toBe(0);
      // Its first rejoin came with its data socket still empty: the DATA had not reached it at all.
      const rejoins = (await readFile(logs[0]!, 'utf8'))
        .split('\n')
        .filter((l) => l.includes('"dataGroup.rejoin"'))
        .map((l) => JSON.parse(l) as { datagrams: number; silentMs: number });
      expect(rejoins.length, why).toBe(stats[0]!.dataRejoins);
      expect(rejoins[0]!.datagrams, why).toBe(0);
    },
    RUN_TIMEOUT_MS + 30_000,
  );
});
