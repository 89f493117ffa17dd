// --async start-up on the namespace lab: receivers already waiting must never miss the
// head because the sender began too early, and one started late must still finish (from a
// later pass of the carousel).
//
//   npm run build && node dist/bench/async-start.js [--runs 20] [--size 16] [--receivers 4] [--loss 10] [--late-after 2] [--carousel N]
//
// Each run: --receivers receivers (--file, each its own output) wait in their namespaces,
// then `udp-sender --async --fec 8x4/32 --max-bitrate 200m --file IMAGE` starts, with no
// --min-wait (and no --carousel unless given): the defaults are what is measured. Then
// one late run: all but one receiver waiting, the last started --late-after seconds after
// the sender. One line per run: exit codes, each receiver's seconds and stderr when it
// failed; a JSON file with everything goes to bench/results/ with the commit and machine.
// Exit 0 when every receiver of every run verified, 1 otherwise, 2 not root / tools missing.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRack, labSkipReason, parseLastJson, type RunResult, sha256File, withLabLock, writeRandomFile } from './lab.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';

const HEAD_START_MS = 500;

interface RunOutcome {
  run: string;
  senderExit: number | null;
  senderSeconds: number;
  receivers: { exit: number | null; seconds: number; ok: boolean; stderr: string; slicesPutOff?: number }[];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      size: { type: 'string', default: '16' },
      receivers: { type: 'string', default: '4' },
      loss: { type: 'string', default: '10' },
      'late-after': { type: 'string', default: '2' },
      carousel: { type: 'string' },
      'results-dir': { type: 'string' },
    },
  });
  const skip = labSkipReason();
  if (skip !== undefined) {
    process.stderr.write(`async-start: ${skip}\n`);
    return 2;
  }
  const root = projectRoot();
  const runs = Number(values.runs);
  const sizeBytes = Number(values.size) << 20;
  const n = Number(values.receivers);
  const lateAfterMs = Number(values['late-after']) * 1000;
  const senderCli = join(root, 'dist/sender/cli.js');
  const receiverCli = join(root, 'dist/receiver/cli.js');
  const extra = values.carousel === undefined ? [] : ['--carousel', values.carousel];
  return withLabLock(async () => {
    const rack = await createRack({ receivers: n, lossPermille: Number(values.loss) });
    const work = await mkdtemp(join(tmpdir(), 'rackcast-async-start-'));
    const outcomes: RunOutcome[] = [];
    try {
      const image = join(work, 'image.bin');
      await writeRandomFile(image, sizeBytes);
      const sha = await sha256File(image);
      const one = async (name: string, lateIndex: number | undefined): Promise<RunOutcome> => {
        const dir = join(work, name);
        await mkdir(dir);
        const start = (i: number): Promise<RunResult> =>
          rack.run(rack.receiverNs[i]!, [process.execPath, receiverCli, '--file', join(dir, `out${i}`), '--interface', rack.receiverAddrs[i]!, '--json'], {
            timeoutMs: 120_000,
          });
        const runsR: Promise<RunResult>[] = [];
        for (let i = 0; i < n; i++) if (i !== lateIndex) runsR[i] = start(i);
        await new Promise((r) => setTimeout(r, HEAD_START_MS));
        const sender = rack.run(
          rack.senderNs,
          [
            process.execPath,
            senderCli,
            '--file',
            image,
            '--interface',
            rack.senderAddr,
            '--async',
            '--fec',
            '8x4/32',
            '--max-bitrate',
            '200m',
            ...extra,
            '--json',
          ],
          { timeoutMs: 120_000 },
        );
        if (lateIndex !== undefined) {
          await new Promise((r) => setTimeout(r, lateAfterMs));
          runsR[lateIndex] = start(lateIndex);
        }
        const [s, ...rs] = await Promise.all([sender, ...runsR]);
        const receivers = await Promise.all(
          rs.map(async (r, i) => {
            const ok = r.code === 0 && (await sha256File(join(dir, `out${i}`)).catch(() => '')) === sha;
            const j = parseLastJson(r.stdout) as { stats?: { slicesPutOff?: number } } | undefined;
            return {
              exit: r.code,
              seconds: r.wallMs / 1000,
              ok,
              stderr: ok ? '' : (r.stderr.trim().split('\n').at(-1) ?? ''),
              slicesPutOff: j?.stats?.slicesPutOff,
            };
          }),
        );
        return { run: name, senderExit: s.code, senderSeconds: s.wallMs / 1000, receivers };
      };
      for (let i = 1; i <= runs; i++) outcomes.push(await one(`run${i}`, undefined));
      outcomes.push(await one('late', n - 1));
    } finally {
      await rack.destroy();
      await rm(work, { recursive: true, force: true });
    }
    let bad = 0;
    for (const o of outcomes) {
      const failed = o.receivers.filter((r) => !r.ok);
      bad += failed.length;
      process.stdout.write(
        `${o.run.padEnd(6)} sender exit ${o.senderExit} ${o.senderSeconds.toFixed(1)} s; receivers ${o.receivers
          .map((r) => `${r.ok ? 'ok' : `FAIL(${r.exit})`} ${r.seconds.toFixed(1)} s${r.slicesPutOff ? ` put-off ${r.slicesPutOff}` : ''}`)
          .join(', ')}${failed.length > 0 ? `\n       ${failed.map((f) => f.stderr).join('\n       ')}` : ''}\n`,
      );
    }
    process.stdout.write(`${outcomes.length - 1} runs + 1 late: ${bad} receiver(s) failed\n`);
    const resultsDir = resolve(values['results-dir'] ?? join(root, 'bench/results'));
    await mkdir(resultsDir, { recursive: true });
    const file = join(resultsDir, `async-start-${stamp(new Date())}.json`);
    await writeFile(
      file,
      JSON.stringify(
        {
          ...gitCommit(root),
          node: process.version,
          cpu: cpuModel(),
          cores: availableParallelism(),
          args: values,
          outcomes,
        },
        null,
        2,
      ),
    );
    process.stdout.write(`results: ${file}\n`);
    return bad === 0 ? 0 : 1;
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`async-start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(3);
  },
);
