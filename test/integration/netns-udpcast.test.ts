// `udp-sender --protocol udpcast` against 4 of Debian's stock udp-receivers in the namespace
// lab (bench/lab.ts: one bridge, nftables loss at each receiver), 64 MiB at 0, 2 and 5%
// loss, with and without --fec, with FOG's flags (unicast rendezvous to the sender, TTL 32)
// and Clonezilla's (--mcast-all-address); then one receiver killed mid-transfer: the other
// three complete and the sender's table names the dead one. Needs root, ip/nft/tc and
// Debian's udpcast; skipped otherwise (reason printed).

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
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
  type RunResult,
  sha256File,
  writeRandomFile,
} from '../../bench/lab.js';

const RECEIVERS = 4;
const IMAGE_BYTES = 64 << 20;
const TIMEOUT_MS = 150_000;
const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
const UDP_RECEIVER = '/usr/bin/udp-receiver';

const skipReason = labSkipReason() ?? (existsSync(UDP_RECEIVER) ? undefined : `${UDP_RECEIVER} missing (apt-get install udpcast)`);
if (skipReason !== undefined) console.log(`netns-udpcast.test.ts: skipped: ${skipReason}`);

/** Like rack.run, but the child is at hand so the test can kill exactly it (by its pid). */
function start(rack: Rack, ns: string, argv: readonly string[], timeoutMs: number): { kill: () => void; result: Promise<RunResult> } {
  const t0 = performance.now();
  // `ip netns exec` execs the program: this child's pid is the program's.
  const child = rack.exec(ns, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const result = new Promise<RunResult>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - t0, timedOut });
    }),
  );
  return { kill: () => child.kill('SIGKILL'), result };
}

function show(name: string, r: RunResult): string {
  return `${name}: exit ${r.code}${r.signal ? ` ${r.signal}` : ''}${r.timedOut ? ' (timed out)' : ''} after ${(r.wallMs / 1000).toFixed(1)} s\n  stdout: ${r.stdout.trim().slice(-1500)}\n  stderr: ${r.stderr.trim().slice(-2500)}`;
}

interface Report {
  ok: boolean;
  receivers: { clNr: number; address: string; state: string; detail: string }[];
  stats: Record<string, number>;
}

type Style = 'fog' | 'clonezilla' | 'plain';

describe.skipIf(skipReason !== undefined)('udp-sender --protocol udpcast → 4 stock udp-receivers in a namespace rack', () => {
  let lock: LabLock | undefined;
  let dir = '';
  let input = '';
  let inputSha = '';
  let port = 31000;

  beforeAll(async () => {
    lock = await acquireLabLock({ waitSeconds: 540 });
    dir = await mkdtemp(join(tmpdir(), 'rackcast-netns-udpcast-'));
    input = join(dir, 'image.bin');
    await writeRandomFile(input, IMAGE_BYTES);
    inputSha = await sha256File(input);
  }, 600_000);

  afterAll(async () => {
    await lock?.release();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  async function run(rack: Rack, style: Style, senderExtra: readonly string[], opts: { kill?: number; killAfterMs?: number } = {}) {
    port += 2;
    const portbase = port;
    const outs = rack.receiverAddrs.map((_, i) => join(dir, `out-${portbase}-${i + 1}.bin`));
    const rdv =
      style === 'clonezilla' ? ['--mcast-all-address', '239.192.70.2'] : style === 'fog' ? ['--ttl', '32', '--mcast-rdv-address', rack.senderAddr] : [];
    const receivers = rack.receiverNs.map((ns, i) =>
      start(rack, ns, [UDP_RECEIVER, '--nokbd', '--interface', 'eth0', '--portbase', String(portbase), '--file', outs[i]!, ...rdv], TIMEOUT_MS),
    );
    await new Promise((r) => setTimeout(r, 500));
    const senderRdv =
      style === 'clonezilla' ? ['--mcast-all-address', '239.192.70.2'] : style === 'fog' ? ['--ttl', '32', '--full-duplex', '--nopointopoint'] : [];
    const sender = rack.run(
      rack.senderNs,
      [
        process.execPath,
        SENDER_CLI,
        '--protocol',
        'udpcast',
        '--file',
        input,
        '--nokbd',
        '--min-receivers',
        String(RECEIVERS),
        '--max-wait',
        '30',
        '--interface',
        'eth0',
        '--portbase',
        String(portbase),
        '--mcast-data-address',
        '239.192.70.1',
        '--json',
        ...senderRdv,
        ...senderExtra,
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    if (opts.kill !== undefined) {
      await new Promise((r) => setTimeout(r, opts.killAfterMs ?? 1500));
      receivers[opts.kill]!.kill();
    }
    const [s, ...rs] = await Promise.all([sender, ...receivers.map((r) => r.result)]);
    return { s, rs, outs };
  }

  describe.each([0, 20, 50])('loss %i per mille', (lossPermille) => {
    let rack: Rack | undefined;
    beforeAll(async () => {
      rack = await createRack({ receivers: RECEIVERS, lossPermille });
    }, 120_000);
    afterAll(async () => {
      await rack?.destroy();
    });

    it.each([
      ['plain', 'fog' as Style, [] as string[]],
      ['--fec 8x4/128', 'clonezilla' as Style, ['--fec', '8x4/128']],
    ])(
      '%s: 64 MiB byte-identical at all 4, every receiver complete',
      async (_name, style, extra) => {
        const { s, rs, outs } = await run(rack!, style, extra);
        expect(s.code, show('sender', s)).toBe(0);
        for (const [i, r] of rs.entries()) {
          expect(r.code, show(`receiver ${i + 1}`, r)).toBe(0);
          expect(await sha256File(outs[i]!), `receiver ${i + 1}`).toBe(inputSha);
        }
        const rep = parseLastJson(s.stdout) as unknown as Report;
        expect(rep.receivers.map((x) => x.state)).toEqual(['complete', 'complete', 'complete', 'complete']);
        if (lossPermille > 0) expect(rep.stats.rexmitBlocks! + rep.stats.repairFecBlocks! + rep.stats.fecBlocks!).toBeGreaterThan(0);
        console.log(`netns-udpcast: loss ${lossPermille / 10}% ${_name}: ${(s.wallMs / 1000).toFixed(2)} s sender wall, stats ${JSON.stringify(rep.stats)}`);
      },
      200_000,
    );
  });

  it('one receiver killed mid-transfer (2% loss): the other three complete, the table names it dropped, exit 1', async () => {
    const rack = await createRack({ receivers: RECEIVERS, lossPermille: 20 });
    try {
      const { s, rs, outs } = await run(rack, 'plain', ['--max-bitrate', '160m', '--retries-until-drop', '60'], { kill: 1, killAfterMs: 2000 });
      expect(s.code, show('sender', s)).toBe(1);
      const rep = parseLastJson(s.stdout) as unknown as Report;
      const byAddr = new Map(rep.receivers.map((x) => [x.address, x]));
      expect(byAddr.get(rack.receiverAddrs[1]!)?.state, show('sender', s)).toBe('dropped');
      expect(s.stderr).toContain(`(${rack.receiverAddrs[1]}) dropped: no answer`);
      for (const i of [0, 2, 3]) {
        expect(byAddr.get(rack.receiverAddrs[i]!)?.state).toBe('complete');
        expect(rs[i]!.code, show(`receiver ${i + 1}`, rs[i]!)).toBe(0);
        expect(await sha256File(outs[i]!)).toBe(inputSha);
      }
      expect(rs[1]!.signal ?? rs[1]!.code).not.toBe(0);
    } finally {
      await rack.destroy();
    }
  }, 200_000);
});
