// Receiver pipeline bench on loopback: 1 sender, 1 receiver (the built CLIs, own ports
// and groups), through the stages after the network:
//
//   gzip-cpio   node.cpio.gz (GNU cpio crc | gzip -6 of a generated tree) → --unpack DIR
//   zstd-cpio   node.cpio.zst (the same archive | zstd -3) → --unpack DIR
//   gzip-disk   a raw image sent with --compress gzip (level 6) → --file out.img (auto-decompressed)
//   lz4-disk    the same image sent with --compress lz4 → --file out.img
//   zstd-disk   the same image sent with --compress zstd (level 3) → --file out.img
//   raw-disk    the same image sent as is → --file out.img (the baseline)
//
// and, before them, the decompressors alone, in this process: the image compressed by the
// gzip (-6), lz4 (-1) and zstd (-3) CLIs, fed through the receiver's sinks
// (receiver/decompress.ts) in 1 MiB pieces into a sink that drops the output; CPU seconds
// (user + system) per GB of decompressed output:
//   decode zstd  in=…MiB out=…MiB  CPU s=…  CPU s/GB=…  MB/s=…
//
//   npm run build && node dist/bench/pipeline-bench.js [--size MiB] [--reps R] [--out-dir DIR] [--results-dir DIR] [--keep]
//     [--scenarios gzip-cpio,zstd-disk,...]
//
// --size: MiB of image data (tree contents / raw image), default 256. --out-dir: where
// the receiver writes (default: beside the inputs, in the temporary directory; give a
// tmpfs such as /dev/shm to take the disk out of the measurement). Outputs are removed
// only at the end: deleting between runs makes file systems mounted with `discard`
// slow down the next run's file creations several fold. The data is one
// third random, one third zeros, one third text-like (about 2.5:1 for gzip). One line
// per run:
//   gzip-cpio  image=256.0MiB wire=101.2MiB  seconds=…  image MB/s=…  wire MB/s=…  receiver CPU s=…  peak RSS MiB=…  sender CPU s=…  ok|BAD
// seconds, CPU and RSS are what each CLI reports in --json (receiver seconds: first data
// to verified; CPU: user + system of the whole process; RSS: its peak). image MB/s is
// the decompressed bytes written per second, wire MB/s the bytes on the network.
// ok: both exit 0 and the output (file's SHA-256, tree's digest) equals the input.
// Results: bench/results/pipeline-bench-<date>-<size>MiB.json with commit, Node, CPU.
// Exit: 0 all ok, 1 some run BAD, 2 usage error or a tool missing.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { wrapDecompress } from '../receiver/decompress.js';
import type { Sink, SinkReport } from '../receiver/sink-types.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';

const MiB = 1 << 20;
const MB = 1e6;
const RECEIVER_HEAD_START_MS = 400;
const SENDER_CLI = fileURLToPath(new URL('../sender/cli.js', import.meta.url));
const RECEIVER_CLI = fileURLToPath(new URL('../receiver/cli.js', import.meta.url));

type Scenario = 'gzip-cpio' | 'zstd-cpio' | 'gzip-disk' | 'lz4-disk' | 'zstd-disk' | 'raw-disk';
const SCENARIOS: readonly Scenario[] = ['gzip-cpio', 'zstd-cpio', 'gzip-disk', 'lz4-disk', 'zstd-disk', 'raw-disk'];
type DecodeFormat = 'gzip' | 'lz4' | 'zstd';

interface Config {
  sizeMiB: number;
  outDir: string | undefined;
  reps: number;
  resultsDir: string;
  keep: boolean;
  scenarios: readonly Scenario[];
}

interface Proc {
  code: number | null;
  signal: string | null;
  wallSeconds: number;
  json: Record<string, unknown> | undefined;
  stderrTail: string;
}

function parseConfig(argv: string[]): Config | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        size: { type: 'string' },
        reps: { type: 'string' },
        'out-dir': { type: 'string' },
        'results-dir': { type: 'string' },
        keep: { type: 'boolean' },
        scenarios: { type: 'string' },
      },
    }));
  } catch (e) {
    return (e as Error).message;
  }
  const sizeMiB = Number(values.size ?? '256');
  const reps = Number(values.reps ?? '1');
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1) return `--size: a whole number of MiB >= 1, got ${values.size}`;
  if (!Number.isInteger(reps) || reps < 1) return `--reps: a whole number >= 1, got ${values.reps}`;
  const scenarios = values.scenarios === undefined ? SCENARIOS : (values.scenarios.split(',') as Scenario[]);
  const unknown = scenarios.find((x) => !SCENARIOS.includes(x));
  if (unknown !== undefined) return `--scenarios: unknown "${unknown}" (${SCENARIOS.join(', ')})`;
  return {
    sizeMiB,
    outDir: values['out-dir'] === undefined ? undefined : resolve(values['out-dir']),
    reps,
    resultsDir: resolve(values['results-dir'] ?? join(projectRoot(), 'bench', 'results')),
    keep: values.keep === true,
    scenarios,
  };
}

// ---------------------------------------------------------------- data

const WORDS = 'rack node image slice block stripe repair multicast receiver sender kernel initrd root boot lib usr bin etc var log '.split(' ');

/** 1 MiB pieces: random, zeros or text-like, in turn. */
function piece(i: number): Buffer {
  switch (i % 3) {
    case 0:
      return randomBytes(MiB);
    case 1:
      return Buffer.alloc(MiB);
    default: {
      const parts: string[] = [];
      let n = 0;
      while (n < MiB) {
        const w = `${WORDS[randomInt(WORDS.length)]}${randomInt(1000)}${randomInt(8) === 0 ? '\n' : ' '}`;
        parts.push(w);
        n += w.length;
      }
      return Buffer.from(parts.join('')).subarray(0, MiB);
    }
  }
}

async function writeImage(path: string, sizeMiB: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < sizeMiB; i++) {
    if (!out.write(piece(i))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

/** A tree like a root file system's: many small files, some large, links, dirs. */
async function writeTree(dir: string, sizeMiB: number): Promise<void> {
  let left = sizeMiB * MiB;
  let fileNo = 0;
  for (let d = 0; left > 0; d++) {
    const sub = join(dir, `dir${d}`, `sub${d % 7}`);
    await mkdir(sub, { recursive: true });
    // 200 small files (1-16 KiB) and one large (up to 8 MiB) per directory.
    for (let f = 0; f < 200 && left > 0; f++) {
      const n = Math.min(left, 1024 * (1 + randomInt(16)));
      const p = piece(fileNo++);
      await writeFile(join(sub, `f${f}.dat`), p.subarray(0, n));
      left -= n;
    }
    if (left > 0) {
      const n = Math.min(left, (1 + randomInt(8)) * MiB);
      const parts: Buffer[] = [];
      for (let k = 0; k < Math.ceil(n / MiB); k++) parts.push(piece(fileNo++));
      await writeFile(join(sub, 'large.bin'), Buffer.concat(parts).subarray(0, n));
      left -= n;
    }
    execFileSync('ln', ['-sf', `sub${d % 7}/f0.dat`, join(dir, `dir${d}`, 'link')]);
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
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
        if (rel === '.' && n === '.rackcast-incomplete') continue;
        await walk(join(abs, n), rel === '.' ? n : `${rel}/${n}`);
      }
    }
  };
  await walk(root, '.');
  return h.digest('hex');
}

// ---------------------------------------------------------------- runs

function run(script: string, args: string[], timeoutMs: number): Promise<Proc> {
  return new Promise((resolveRun) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .pop();
      let json: Record<string, unknown> | undefined;
      try {
        json = last === undefined ? undefined : (JSON.parse(last) as Record<string, unknown>);
      } catch {
        json = undefined;
      }
      resolveRun({ code, signal, wallSeconds: (performance.now() - t0) / 1000, json, stderrTail: stderr.trim().slice(-600) });
    });
  });
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function cpuSeconds(json: Record<string, unknown> | undefined): number | null {
  const u = num(json?.cpuUserMs);
  const s = num(json?.cpuSystemMs);
  return u === null || s === null ? null : (u + s) / 1000;
}

interface RunRecord {
  scenario: Scenario;
  rep: number;
  ok: boolean;
  problems: string[];
  imageBytes: number;
  wireBytes: number | null;
  receiverSeconds: number | null;
  imageMBps: number | null;
  wireMBps: number | null;
  receiverCpuSeconds: number | null;
  receiverMaxRssKiB: number | null;
  senderCpuSeconds: number | null;
  senderMaxRssKiB: number | null;
  receiverOutput: unknown;
  sender: Proc;
  receiver: Proc;
}

async function runOne(
  scenario: Scenario,
  rep: number,
  outDir: string,
  inputs: { image: string; imageSha: string; gz: string; zst: string; tree: string; treeDigest: string; imageBytes: number; treeBytes: number },
): Promise<RunRecord> {
  const portbase = 2 * randomInt(10_000, 30_000);
  const third = randomInt(0, 256) === 67 ? 68 : randomInt(0, 256);
  const net = ['--interface', '127.0.0.1', '--portbase', String(portbase), '--mcast-rdv-address', `239.193.${third}.2`];
  const out = join(outDir, `${scenario}-${rep}`);
  await rm(out, { recursive: true, force: true });
  const cpioScenario = scenario === 'gzip-cpio' || scenario === 'zstd-cpio';
  const receiverArgs = cpioScenario ? ['--unpack', out] : ['--file', `${out}.img`];
  const senderArgs: Record<Scenario, string[]> = {
    'gzip-cpio': ['--file', inputs.gz],
    'zstd-cpio': ['--file', inputs.zst],
    'gzip-disk': ['--file', inputs.image, '--compress', 'gzip'],
    'lz4-disk': ['--file', inputs.image, '--compress', 'lz4'],
    'zstd-disk': ['--file', inputs.image, '--compress', 'zstd'],
    'raw-disk': ['--file', inputs.image],
  };
  const timeoutMs = 60_000 + 1_000 * (inputs.imageBytes / MiB);
  const receiverP = run(RECEIVER_CLI, [...net, ...receiverArgs, '--json'], timeoutMs);
  await new Promise((r) => setTimeout(r, RECEIVER_HEAD_START_MS));
  const senderP = run(SENDER_CLI, [...net, '--mcast-data-address', `239.193.${third}.1`, '--min-receivers', '1', '--json', ...senderArgs[scenario]], timeoutMs);
  const [sender, receiver] = await Promise.all([senderP, receiverP]);
  const problems: string[] = [];
  if (sender.code !== 0) problems.push(`sender exit ${sender.code ?? sender.signal}: ${sender.stderrTail}`);
  if (receiver.code !== 0) problems.push(`receiver exit ${receiver.code ?? receiver.signal}: ${receiver.stderrTail}`);
  const imageBytes = cpioScenario ? inputs.treeBytes : inputs.imageBytes;
  if (receiver.code === 0) {
    if (cpioScenario) {
      if ((await treeDigest(out)) !== inputs.treeDigest) problems.push('unpacked tree differs from the source');
    } else if ((await sha256File(`${out}.img`)) !== inputs.imageSha) {
      problems.push('output differs from the image');
    }
  }
  const rSeconds = num(receiver.json?.seconds);
  const wireBytes = num(receiver.json?.bytes);
  return {
    scenario,
    rep,
    ok: problems.length === 0,
    problems,
    imageBytes,
    wireBytes,
    receiverSeconds: rSeconds,
    imageMBps: rSeconds === null || rSeconds === 0 ? null : imageBytes / MB / rSeconds,
    wireMBps: rSeconds === null || rSeconds === 0 || wireBytes === null ? null : wireBytes / MB / rSeconds,
    receiverCpuSeconds: cpuSeconds(receiver.json),
    receiverMaxRssKiB: num(receiver.json?.maxRssKiB),
    senderCpuSeconds: cpuSeconds(sender.json),
    senderMaxRssKiB: num(sender.json?.maxRssKiB),
    receiverOutput: receiver.json?.output,
    sender,
    receiver,
  };
}

interface DecodeRecord {
  format: DecodeFormat;
  inBytes: number;
  outBytes: number;
  cpuSeconds: number;
  wallSeconds: number;
  cpuSecondsPerGB: number;
  ok: boolean;
}

/** Output dropped, bytes counted. */
class NullSink implements Sink {
  readonly description = 'null';
  bytes = 0;
  readonly hash = createHash('sha256');
  async write(buf: Uint8Array): Promise<void> {
    this.bytes += buf.byteLength;
    this.hash.update(buf);
  }
  async finish(): Promise<void> {}
  async commit(): Promise<void> {}
  async discard(): Promise<void> {}
  report(): SinkReport {
    return {};
  }
  offsetSink(): string {
    return 'null';
  }
}

/** The image compressed by the format's CLI, then decoded through the receiver's sink; CPU of the decode alone. */
async function decodeOnly(format: DecodeFormat, image: string, work: string): Promise<DecodeRecord> {
  const compressed = join(work, `image.${format}`);
  const cmd = { gzip: `gzip -6 -c '${image}'`, lz4: `lz4 -1 -c -q '${image}'`, zstd: `zstd -3 -c -q '${image}'` }[format];
  const made = spawnSync('sh', ['-c', `${cmd} > '${compressed}'`]);
  if (made.status !== 0) throw new Error(`${cmd} failed: ${made.stderr.toString()}`);
  const input = await readFile(compressed);
  await rm(compressed);
  // The hash of the output is taken outside the measured CPU: measure it alone first.
  const plain = await readFile(image);
  const inner = new NullSink();
  const sink = wrapDecompress(inner, format);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let off = 0; off < input.byteLength; off += MiB) await sink.write(input.subarray(off, off + MiB));
  await sink.finish();
  const c = process.cpuUsage(c0);
  const wallSeconds = (performance.now() - t0) / 1000;
  const h0 = process.cpuUsage();
  createHash('sha256').update(plain).digest();
  const hashCpu = process.cpuUsage(h0);
  const cpuSeconds = Math.max(0, (c.user + c.system - hashCpu.user - hashCpu.system) / 1e6);
  const ok = inner.bytes === plain.byteLength && inner.hash.digest('hex') === createHash('sha256').update(plain).digest('hex');
  return { format, inBytes: input.byteLength, outBytes: inner.bytes, cpuSeconds, wallSeconds, cpuSecondsPerGB: cpuSeconds / (inner.bytes / 1e9), ok };
}

function decodeLine(d: DecodeRecord): string {
  return (
    `decode ${d.format.padEnd(4)}  in=${fmt(d.inBytes / MiB)}MiB out=${fmt(d.outBytes / MiB)}MiB  CPU s=${fmt(d.cpuSeconds, 2)}` +
    `  CPU s/GB=${fmt(d.cpuSecondsPerGB, 2)}  MB/s=${fmt(d.outBytes / MB / d.wallSeconds)}  ${d.ok ? 'ok' : 'BAD'}`
  );
}

function fmt(v: number | null, digits = 1): string {
  return v === null ? '-' : v.toFixed(digits);
}

function line(r: RunRecord): string {
  return (
    `${r.scenario.padEnd(9)}  image=${fmt(r.imageBytes / MiB)}MiB wire=${fmt(r.wireBytes === null ? null : r.wireBytes / MiB)}MiB` +
    `  seconds=${fmt(r.receiverSeconds, 2)}  image MB/s=${fmt(r.imageMBps)}  wire MB/s=${fmt(r.wireMBps)}` +
    `  receiver CPU s=${fmt(r.receiverCpuSeconds, 2)}  peak RSS MiB=${fmt(r.receiverMaxRssKiB === null ? null : r.receiverMaxRssKiB / 1024)}` +
    `  sender CPU s=${fmt(r.senderCpuSeconds, 2)}  ${r.ok ? 'ok' : `BAD (${r.problems.join('; ')})`}`
  );
}

async function main(): Promise<number> {
  const cfg = parseConfig(process.argv.slice(2));
  if (typeof cfg === 'string') {
    process.stderr.write(
      `pipeline-bench: ${cfg}\nusage: node dist/bench/pipeline-bench.js [--size MiB] [--reps R] [--out-dir DIR] [--results-dir DIR] [--keep]\n`,
    );
    return 2;
  }
  for (const p of [SENDER_CLI, RECEIVER_CLI]) {
    if (!existsSync(p)) {
      process.stderr.write(`pipeline-bench: ${p} is missing: run npm run build first\n`);
      return 2;
    }
  }
  for (const tool of ['cpio', 'lz4', 'zstd']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      process.stderr.write(`pipeline-bench: ${tool} is missing (apt-get install ${tool})\n`);
      return 2;
    }
  }
  const startedAt = new Date();
  const work = await mkdtemp(join(tmpdir(), 'rackcast-pipeline-bench-'));
  try {
    process.stdout.write(`pipeline-bench: making a ${cfg.sizeMiB} MiB image and tree in ${work}\n`);
    const image = join(work, 'raw.img');
    await writeImage(image, cfg.sizeMiB);
    const tree = join(work, 'tree');
    await writeTree(tree, cfg.sizeMiB);
    const cpio = join(work, 'node.cpio');
    const made = spawnSync('sh', ['-c', `find . | cpio -o --quiet --format=crc > '${cpio}'`], { cwd: tree });
    if (made.status !== 0) throw new Error(`cpio -o failed: ${made.stderr.toString()}`);
    const gz = join(work, 'node.cpio.gz');
    await pipeline(createReadStream(cpio), createGzip({ level: 6 }), createWriteStream(gz));
    const zst = join(work, 'node.cpio.zst');
    const zMade = spawnSync('zstd', ['-q', '-3', cpio, '-o', zst]);
    if (zMade.status !== 0) throw new Error(`zstd failed: ${zMade.stderr.toString()}`);
    const decodes: DecodeRecord[] = [];
    for (const f of ['gzip', 'lz4', 'zstd'] as const) {
      const d = await decodeOnly(f, image, work);
      decodes.push(d);
      process.stdout.write(`${decodeLine(d)}\n`);
    }
    const inputs = {
      image,
      imageSha: await sha256File(image),
      gz,
      zst,
      tree,
      treeDigest: await treeDigest(tree),
      imageBytes: cfg.sizeMiB * MiB,
      treeBytes: (await lstat(cpio)).size,
    };
    await rm(cpio);
    const runs: RunRecord[] = [];
    const outDir = cfg.outDir === undefined ? join(work, 'out') : await mkdtemp(join(cfg.outDir, 'rackcast-pipeline-bench-out-'));
    await mkdir(outDir, { recursive: true });
    try {
      for (let rep = 1; rep <= cfg.reps; rep++) {
        for (const s of cfg.scenarios) {
          const r = await runOne(s, rep, outDir, inputs);
          runs.push(r);
          process.stdout.write(`${line(r)}\n`);
        }
      }
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
    const root = projectRoot();
    const results = {
      bench: 'pipeline-bench',
      startedAt: startedAt.toISOString(),
      ...gitCommit(root),
      node: process.version,
      cpuModel: cpuModel(),
      cores: availableParallelism(),
      kernel: release(),
      config: { ...cfg, imageBytes: inputs.imageBytes, cpioBytes: inputs.treeBytes, gzBytes: (await lstat(gz)).size, zstBytes: (await lstat(zst)).size },
      units: {
        imageMBps: '1e6 bytes of decompressed image (raw image, or cpio archive for gzip-cpio) per receiver second',
        wireMBps: '1e6 bytes on the network per receiver second',
        receiverSeconds: 'receiver --json seconds: first data to verified (includes fsync / sync)',
        cpuSeconds: 'user+system CPU seconds of the whole process, from its --json',
        maxRssKiB: 'peak resident set of the process, from its --json',
        decodeCpuSecondsPerGB: 'user+system CPU seconds of this process per 1e9 bytes of decompressed output, decoder alone (receiver sinks into a null sink)',
      },
      decodes,
      runs,
    };
    await mkdir(cfg.resultsDir, { recursive: true });
    const where = cfg.outDir === undefined ? '' : `-out${cfg.outDir.replace(/[^A-Za-z0-9]+/g, '-')}`;
    const file = join(cfg.resultsDir, `pipeline-bench-${stamp(startedAt)}-${cfg.sizeMiB}MiB${where}.json`);
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`results: ${file}\n`);
    return runs.every((r) => r.ok) && decodes.every((d) => d.ok) ? 0 : 1;
  } finally {
    if (cfg.keep) process.stdout.write(`kept ${work}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pipeline-bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(3);
  },
);
