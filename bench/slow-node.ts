// One slow node in the namespace lab: do the healthy receivers still finish at their own
// pace, and does the slow one still end verified?
//
//   npm run build && node dist/bench/slow-node.js [--reps 3] [--mode raw,cpio] [--receivers 6]
//       [--size 256] [--cpio-tree 512] [--slow-share 0.25 | --slow-mbps M] [--variants alone,six,slow,held]
//       [--max-bitrate RATE]
//
// Each rep, each mode, three runs on one rack (no loss, no rate limit):
//   alone     receivers-1 healthy receivers, no slow node in the rack (the reference)
//   six       all receivers healthy (the last one's disk unthrottled): what one more node
//             costs on a lab where every node shares the same two cores, slow or not
//   slow      the same plus one slow receiver, the sender as shipped (catch-up pass)
//   held      the same, with udp-sender --no-catch-up (the rack keeps the slow node's pace)
// raw: a crypto-random image to --file; cpio: a cpio.gz of system files to --unpack DIR
// (512 MiB of files by default: a 128 MiB tree's first pass lasts about 3 s here, so the
// second or two the rack takes to tell a slow node from a busy one is most of what it measures).
// Healthy receivers write to /dev/shm. The slow one writes to an ext4 file system on a
// loop device of its own, whose writes are throttled: blkio.throttle.write_bps_device on
// the root blkio cgroup (so the kernel's writeback to it is throttled too) and the
// device's dirty page cache held to DIRTY_BYTES with strict_limit (so the writer waits
// for the disk instead of filling memory). The throttle is --slow-share of the healthy
// receivers' output rate in rep 1's 'alone' run (or --slow-mbps MB/s, the same for every
// mode: that first run may share the machine with something else); what the slow node really got is the
// 'held' run's pace next to 'alone' (the rack moves at the slow node's pace there).
// --max-bitrate RATE (udp-sender's option, e.g. 40m) caps the sender, as a rack's network
// does: the healthy nodes then wait for the network instead of sharing the lab's two cores
// flat out, which is what a rack of separate machines looks like; uncapped, six CPU-bound
// receivers and the sender on two cores make each run's time move by more than the
// 1.15x margin (the scheduler, not the policy, decides who is last).
// Times are from the sender's spawn to each receiver's exit (it exits once verified).
// Each output is checked here too: sha256 of the file, or the unpacked tree against GNU
// cpio's extraction of the same archive. A JSON file goes to bench/results/ with the
// commit, Node version and machine. Exit 0 when every receiver of every run verified and
// matched, 1 otherwise, 2 not root / tools missing.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRack, labSkipReason, parseLastJson, type RunResult, sha256File, withLabLock, writeRandomFile } from './lab.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';
import { cpioImage } from './matrix-images.js';
import { medianOfSome } from './median.js';

const MiB = 1 << 20;
/** Receivers listen this long before the sender starts. */
const HEAD_START_MS = 500;
/** The slow device's dirty page cache: the writer waits for its disk beyond this. */
const DIRTY_BYTES = 16 * MiB;
const BLKIO_ROOT = '/sys/fs/cgroup/blkio';
const RUN_TIMEOUT_MS = 600_000;

type Mode = 'raw' | 'cpio';
type Variant = 'alone' | 'six' | 'slow' | 'held';

interface ReceiverOutcome {
  slow: boolean;
  exit: number | null;
  /** From the sender's spawn to this receiver's exit. */
  seconds: number;
  ok: boolean;
  problem: string;
}

interface RunOutcome {
  mode: Mode;
  rep: number;
  variant: Variant;
  senderExit: number | null;
  senderSeconds: number;
  /** The last healthy receiver's time, and the median over the healthy ones. */
  healthyMaxSeconds: number;
  healthyMedianSeconds: number;
  slowSeconds: number | undefined;
  receivers: ReceiverOutcome[];
  /** The sender's 'slow' and 'catch-up' event lines. */
  events: unknown[];
  senderStats: unknown;
}

/** The slow node's disk: a loop device with ext4, throttled. */
class SlowDisk {
  private loop = '';
  private majMin = '';
  readonly mnt: string;
  constructor(work: string) {
    this.mnt = join(work, 'slow-mnt');
  }

  async create(): Promise<void> {
    const backing = join('/dev/shm', `rackcast-slow-node-${process.pid}.img`);
    execFileSync('truncate', ['-s', '1200M', backing]);
    this.loop = execFileSync('losetup', ['-f', '--show', backing]).toString().trim();
    execFileSync('rm', ['-f', backing]); // the loop device holds it open
    this.majMin = execFileSync('lsblk', ['-dno', 'MAJ:MIN', this.loop]).toString().trim();
    execFileSync('mkfs.ext4', ['-q', '-F', this.loop]);
    await mkdir(this.mnt, { recursive: true });
    execFileSync('mount', [this.loop, this.mnt]);
    writeFileSync(`/sys/class/bdi/${this.majMin}/strict_limit`, '1');
    writeFileSync(`/sys/class/bdi/${this.majMin}/max_bytes`, String(DIRTY_BYTES));
  }

  throttle(bytesPerSec: number): void {
    writeFileSync(join(BLKIO_ROOT, 'blkio.throttle.write_bps_device'), `${this.majMin} ${Math.round(bytesPerSec)}`);
  }

  /** Empties it (unthrottled, so a run starts with a clean, idle disk). */
  async clear(bytesPerSec: number): Promise<void> {
    this.throttle(0);
    for (const n of await readdir(this.mnt)) if (n !== 'lost+found') await rm(join(this.mnt, n), { recursive: true, force: true });
    execFileSync('sync', ['-f', this.mnt]);
    if (bytesPerSec > 0) this.throttle(bytesPerSec);
  }

  destroy(): void {
    const quiet = { stdio: 'ignore' as const };
    if (this.majMin !== '') spawnSync('sh', ['-c', `echo '${this.majMin} 0' > ${BLKIO_ROOT}/blkio.throttle.write_bps_device`], quiet);
    spawnSync('umount', [this.mnt], quiet);
    if (this.loop !== '') spawnSync('losetup', ['-d', this.loop], quiet);
  }
}

/** Names, types, modes, sizes, contents and link targets of a tree (not times or owners). */
async function treeDigest(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await lstat(abs);
    h.update(`${rel}\0${st.mode}\0${st.isDirectory() ? 0 : st.size}\0`);
    if (st.isFile()) h.update(await sha256File(abs));
    if (st.isSymbolicLink()) h.update(await readlink(abs));
    if (st.isDirectory()) {
      for (const n of (await readdir(abs)).sort()) {
        if (rel === '.' && (n === '.rackcast-incomplete' || n === 'lost+found')) continue;
        await walk(join(abs, n), rel === '.' ? n : `${rel}/${n}`);
      }
    }
  };
  await walk(root, '.');
  return h.digest('hex');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '3' },
      mode: { type: 'string', default: 'raw,cpio' },
      receivers: { type: 'string', default: '6' },
      size: { type: 'string', default: '256' },
      'cpio-tree': { type: 'string', default: '512' },
      'slow-share': { type: 'string', default: '0.25' },
      'slow-mbps': { type: 'string' },
      variants: { type: 'string', default: 'alone,six,slow,held' },
      'results-dir': { type: 'string' },
      'max-bitrate': { type: 'string' },
    },
  });
  const skip = labSkipReason();
  if (skip !== undefined) {
    process.stderr.write(`slow-node: ${skip}\n`);
    return 2;
  }
  for (const t of ['losetup', 'mkfs.ext4', 'cpio', 'gzip', 'lsblk']) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) {
      process.stderr.write(`slow-node: ${t} is missing\n`);
      return 2;
    }
  }
  if (!existsSync(join(BLKIO_ROOT, 'blkio.throttle.write_bps_device'))) {
    process.stderr.write(`slow-node: no cgroup v1 blkio throttle at ${BLKIO_ROOT}\n`);
    return 2;
  }
  const root = projectRoot();
  const senderCli = join(root, 'dist/sender/cli.js');
  const receiverCli = join(root, 'dist/receiver/cli.js');
  const reps = Number(values.reps);
  const n = Number(values.receivers);
  const modes = values.mode.split(',') as Mode[];
  const share = Number(values['slow-share']);
  const say = (l: string): void => void process.stdout.write(`${l}\n`);

  return withLabLock(async () => {
    const work = await mkdtemp(join('/dev/shm', 'rackcast-slow-node-'));
    const rack = await createRack({ receivers: n });
    const disk = new SlowDisk(work);
    const outcomes: RunOutcome[] = [];
    const throttles: Record<string, number> = {};
    // Killed (SIGINT, SIGTERM): the rack goes by lab.ts's own handler, which runs first; the
    // throttled loop device, its mount and the work directory would stay without this.
    const onSignal = (signal: NodeJS.Signals): void => {
      disk.destroy();
      rmSync(work, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await disk.create();
      for (const mode of modes) {
        // The image, and what a correct output is.
        let image: string;
        let expected: string;
        if (mode === 'raw') {
          image = join(work, 'image.bin');
          await writeRandomFile(image, Number(values.size) * MiB);
          expected = await sha256File(image);
        } else {
          image = (await cpioImage(Number(values['cpio-tree']), say)).path;
          const ref = join(work, 'ref');
          await mkdir(ref);
          execFileSync('bash', ['-o', 'pipefail', '-c', 'gzip -dc "$1" | (cd "$2" && cpio -idm --quiet)', 'bash', image, ref]);
          expected = await treeDigest(ref);
          await rm(ref, { recursive: true, force: true });
        }
        let throttleBps = values['slow-mbps'] === undefined ? 0 : Number(values['slow-mbps']) * 1e6;
        if (throttleBps > 0) throttles[mode] = throttleBps;
        const one = async (rep: number, variant: Variant): Promise<RunOutcome> => {
          const dir = join(work, `${mode}-${rep}-${variant}`);
          await mkdir(dir);
          const withSlow = variant === 'slow' || variant === 'held';
          await disk.clear(withSlow ? throttleBps : 0);
          const count = variant === 'alone' ? n - 1 : n;
          const outOf = (i: number): string => {
            const base = i === n - 1 ? join(disk.mnt, `${rep}-${variant}`) : join(dir, `out${i}`);
            return mode === 'raw' ? `${base}.img` : base;
          };
          const eventsFile = join(dir, 'events.jsonl');
          let t0 = 0;
          const start = (i: number): Promise<{ r: RunResult; atMs: number }> =>
            rack
              .run(
                rack.receiverNs[i]!,
                [process.execPath, receiverCli, mode === 'raw' ? '--file' : '--unpack', outOf(i), '--interface', rack.receiverAddrs[i]!, '--json'],
                { timeoutMs: RUN_TIMEOUT_MS },
              )
              .then((r) => ({ r, atMs: performance.now() - t0 }));
          const rs: Promise<{ r: RunResult; atMs: number }>[] = [];
          for (let i = 0; i < count; i++) rs.push(start(i));
          await new Promise((r) => setTimeout(r, HEAD_START_MS));
          t0 = performance.now();
          const sender = rack.run(
            rack.senderNs,
            [
              process.execPath,
              senderCli,
              '--file',
              image,
              '--interface',
              rack.senderAddr,
              '--nokbd',
              '--min-receivers',
              String(count),
              '--events',
              eventsFile,
              '--json',
              ...(variant === 'held' ? ['--no-catch-up'] : []),
              ...(values['max-bitrate'] === undefined ? [] : ['--max-bitrate', values['max-bitrate']]),
            ],
            { timeoutMs: RUN_TIMEOUT_MS },
          );
          const [s, ...done] = await Promise.all([sender, ...rs]);
          const receivers: ReceiverOutcome[] = [];
          for (let i = 0; i < done.length; i++) {
            const { r, atMs } = done[i]!;
            let got = '';
            try {
              got = mode === 'raw' ? await sha256File(outOf(i)) : await treeDigest(outOf(i));
            } catch (e) {
              got = `unreadable: ${e instanceof Error ? e.message : String(e)}`;
            }
            const ok = r.code === 0 && got === expected;
            const problem = ok ? '' : r.code !== 0 ? (r.stderr.trim().split('\n').at(-1) ?? '') : 'output differs';
            receivers.push({ slow: i === n - 1, exit: r.code, seconds: atMs / 1000, ok, problem });
          }
          const events = (await readFile(eventsFile, 'utf8').catch(() => ''))
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as { event?: string })
            .filter((e) => e.event === 'slow' || e.event === 'catch-up');
          // Each run's outputs go once checked: 5 copies of the image a run would fill /dev/shm.
          await rm(dir, { recursive: true, force: true });
          const healthy = receivers.filter((x) => !x.slow).map((x) => x.seconds);

          return {
            mode,
            rep,
            variant,
            senderExit: s.code,
            senderSeconds: s.wallMs / 1000,
            healthyMaxSeconds: Math.max(...healthy),
            healthyMedianSeconds: medianOfSome(healthy),
            slowSeconds: receivers.find((x) => x.slow)?.seconds,
            receivers,
            events,
            senderStats: (parseLastJson(s.stdout) as { stats?: unknown } | undefined)?.stats,
          };
        };
        for (let rep = 1; rep <= reps; rep++) {
          for (const variant of (['alone', 'six', 'slow', 'held'] as const).filter((v) => values.variants.split(',').includes(v))) {
            if (variant === 'slow' && throttleBps === 0) {
              // A quarter (--slow-share) of what a healthy receiver wrote per second alone.
              const alone = outcomes.find((o) => o.mode === mode && o.variant === 'alone')!;
              const outBytes = mode === 'raw' ? Number(values.size) * MiB : Number(JSON.parse(await readFile(`${image}.json`, 'utf8')).treeBytes);
              throttleBps = (share * outBytes) / alone.healthyMedianSeconds;
              throttles[mode] = throttleBps;
              say(`slow-node: ${mode}: the slow disk is throttled to ${(throttleBps / 1e6).toFixed(1)} MB/s`);
            }
            const o = await one(rep, variant);
            outcomes.push(o);
            const bad = o.receivers.filter((x) => !x.ok);
            say(
              `${mode} rep ${rep} ${variant.padEnd(5)} healthy max ${o.healthyMaxSeconds.toFixed(2)} s median ${o.healthyMedianSeconds.toFixed(2)} s` +
                `${o.slowSeconds === undefined ? '' : `; slow ${o.slowSeconds.toFixed(2)} s`}; sender exit ${o.senderExit}` +
                `${o.events.length > 0 ? `; events ${o.events.map((e) => (e as { event?: string }).event).join(',')}` : ''}` +
                `${bad.length > 0 ? `\n  FAILED: ${bad.map((b) => `${b.slow ? 'slow' : 'healthy'} exit ${b.exit}: ${b.problem}`).join('\n  FAILED: ')}` : ''}`,
            );
          }
        }
      }
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      disk.destroy();
      await rack.destroy();
      await rm(work, { recursive: true, force: true });
    }
    // The summary: per mode and rep, the healthy receivers with a slow node against alone.
    const summary: Record<string, unknown>[] = [];
    for (const mode of modes) {
      for (let rep = 1; rep <= reps; rep++) {
        const get = (v: Variant): RunOutcome | undefined => outcomes.find((o) => o.mode === mode && o.rep === rep && o.variant === v);
        const [a, x, s, h] = [get('alone'), get('six'), get('slow'), get('held')];
        if (a === undefined || s === undefined) continue;
        const row = {
          mode,
          rep,
          aloneHealthyMaxS: a.healthyMaxSeconds,
          slowHealthyMaxS: s.healthyMaxSeconds,
          ratioMax: s.healthyMaxSeconds / a.healthyMaxSeconds,
          ratioMedian: s.healthyMedianSeconds / a.healthyMedianSeconds,
          slowNodeS: s.slowSeconds,
          sixHealthyMaxS: x?.healthyMaxSeconds,
          ratioMaxVsSix: x === undefined ? undefined : s.healthyMaxSeconds / x.healthyMaxSeconds,
          heldHealthyMaxS: h?.healthyMaxSeconds,
          heldRatio: h === undefined ? undefined : h.healthyMaxSeconds / a.healthyMaxSeconds,
        };
        summary.push(row);
        say(
          `${mode} rep ${rep}: healthy with a slow node ${row.ratioMax.toFixed(3)}x of alone (max; median ${row.ratioMedian.toFixed(3)}x)` +
            `${row.ratioMaxVsSix === undefined ? '' : `, ${row.ratioMaxVsSix.toFixed(3)}x of six healthy`}; ` +
            `slow node done at ${row.slowNodeS?.toFixed(2)} s; with --no-catch-up the healthy ones take ${row.heldRatio?.toFixed(2) ?? '(not run)'}x`,
        );
      }
    }
    const failed = outcomes.reduce((k, o) => k + o.receivers.filter((x) => !x.ok).length, 0);
    say(`${outcomes.length} runs: ${failed} receiver(s) failed`);
    const resultsDir = resolve(values['results-dir'] ?? join(root, 'bench/results'));
    await mkdir(resultsDir, { recursive: true });
    const file = join(resultsDir, `slow-node-${stamp(new Date())}.json`);
    await writeFile(
      file,
      JSON.stringify(
        {
          bench: 'slow-node',
          ...gitCommit(root),
          node: process.version,
          cpu: cpuModel(),
          cores: availableParallelism(),
          kernel: execFileSync('uname', ['-r']).toString().trim(),
          args: values,
          throttleBytesPerSec: throttles,
          summary,
          outcomes,
        },
        null,
        2,
      ),
    );
    say(`results: ${file}`);
    return failed === 0 ? 0 : 1;
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`slow-node: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(3);
  },
);
