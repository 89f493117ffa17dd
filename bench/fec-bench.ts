// FEC micro bench: Reed-Solomon encode and decode throughput, single thread, side by side in one
// run: the native engine with every kernel this CPU runs, the pure-TS reference, and
// @subspace/reed-solomon-erasure.wasm (a dev dependency, only here for comparison).
//
//   npm run bench:fec [-- --shard 1448 --seconds 0.4 --runs 5 --no-write]
//
// Throughput is MB/s (1e6 bytes) of data consumed: k * shard bytes per stripe, whatever the
// number of parity symbols made or blocks rebuilt. Encode makes all m parity symbols of a
// stripe; "batch" is one encodeParities call, "per symbol" is m encodeParity calls (what the
// sender does for repairs). Decode loses m data blocks and rebuilds them from m parity
// symbols: "same loss" repeats one loss pattern (the decode inverse comes from the cache),
// "new loss" cycles through 256 patterns so every decode computes its inverse (the 64-entry
// caches never hit). The wasm coder copies the whole stripe into and out of wasm memory each
// call, which is how it is used. Each figure is the median of --runs timed runs of at least
// --seconds each, after a warm-up. Two tables: wall-clock time, and process CPU time (user +
// system), which is less disturbed when other work shares the machine (the load average is
// printed). Results go to bench/results/fec-<time>-shard<N>.json with the commit, Node
// version, CPU model and flags.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReedSolomonErasure as WasmCoder } from '@subspace/reed-solomon-erasure.wasm';
import wasmPackage from '@subspace/reed-solomon-erasure.wasm';
import { NativeReedSolomon, nativeRsStatus } from '../common/fec.js';
import { CauchyReedSolomon } from '../protocol/fec/cauchy-rs.js';
import type { ErasureCoder } from '../protocol/fec/erasure-coder.js';

const { ReedSolomonErasure } = wasmPackage;

/** Stripe shapes from the issue: a rack-sized stripe and a large one. */
const SHAPES: readonly { readonly k: number; readonly m: number }[] = [
  { k: 32, m: 8 },
  { k: 128, m: 16 },
];

/** Goals on the reference machine (MB/s of data): encode at 32+8 and 128+16; decode at least half. */
const GOAL_ENCODE_MBPS: Readonly<Record<string, number>> = { '32+8': 2000, '128+16': 1000 };

/** Distinct loss patterns cycled by the "new loss" decode: well above the 64-entry inverse caches. */
const FRESH_PATTERNS = 256;

interface Options {
  readonly shardBytes: number;
  readonly seconds: number;
  readonly runs: number;
  readonly write: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let shardBytes = 1448;
  let seconds = 0.4;
  let runs = 5;
  let write = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${a} needs a positive number`);
      return v;
    };
    if (a === '--shard') shardBytes = Math.floor(value());
    else if (a === '--seconds') seconds = value();
    else if (a === '--runs') runs = Math.floor(value());
    else if (a === '--no-write') write = false;
    else throw new RangeError(`unknown option ${a} (use --shard N, --seconds S, --runs N, --no-write)`);
  }
  return { shardBytes, seconds, runs, write };
}

/** Seeded xorshift32, so every coder sees the same bytes and loss patterns. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function lossPattern(next: () => number, k: number, m: number): number[] {
  const pool = Array.from({ length: k }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + (next() % (k - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, m).sort((a, b) => a - b);
}

/** MB/s by wall-clock time and by process CPU time. */
interface Rate {
  readonly wall: number;
  readonly cpu: number;
}

function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}

/** Median MB/s of `runs` timed runs of `op` (each call consuming `bytes`), after a warm-up. */
function measure(op: () => void, bytes: number, opts: Options): Rate {
  const warmUntil = performance.now() + 150;
  let calls = 0;
  while (performance.now() < warmUntil || calls < 3) {
    op();
    calls++;
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < opts.runs; r++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < 8; i++) op();
      n += 8;
      elapsed = performance.now() - t0;
    } while (elapsed < opts.seconds * 1000);
    const c = process.cpuUsage(c0);
    wall.push((n * bytes) / (elapsed / 1000) / 1e6);
    cpu.push((n * bytes) / ((c.user + c.system) / 1e6) / 1e6);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

interface Row {
  readonly coder: string;
  readonly kernel: string;
  readonly shape: string;
  readonly encodeBatchMBps: Rate;
  readonly encodePerSymbolMBps: Rate | null;
  readonly decodeSameLossMBps: Rate;
  readonly decodeNewLossMBps: Rate;
}

/** A stripe in one buffer, k data blocks then m parity blocks, filled from the seed. */
function makeStripe(k: number, m: number, shard: number): { whole: Uint8Array; data: Uint8Array[]; parity: Uint8Array[] } {
  const whole = new Uint8Array((k + m) * shard);
  const next = xorshift(0x5eed);
  for (let i = 0; i < k * shard; i++) whole[i] = next() & 0xff;
  const data = Array.from({ length: k }, (_, j) => whole.subarray(j * shard, (j + 1) * shard));
  const parity = Array.from({ length: m }, (_, t) => whole.subarray((k + t) * shard, (k + t + 1) * shard));
  return { whole, data, parity };
}

function benchCoder(coder: ErasureCoder, label: string, kernel: string, k: number, m: number, opts: Options): Row {
  const shard = opts.shardBytes;
  const bytes = k * shard;
  const { data, parity } = makeStripe(k, m, shard);
  const indices = Array.from({ length: m }, (_, t) => t);
  const batch = (): void => {
    if (coder.encodeParities !== undefined) coder.encodeParities(data, indices, parity);
    else for (let t = 0; t < m; t++) coder.encodeParity(data, t, parity[t]!);
  };
  const perSymbol = (): void => {
    for (let t = 0; t < m; t++) coder.encodeParity(data, t, parity[t]!);
  };
  const encodeBatchMBps = measure(batch, bytes, opts);
  const encodePerSymbolMBps = coder.encodeParities !== undefined ? measure(perSymbol, bytes, opts) : null;

  // Decode: m lost data blocks rebuilt into scratch outputs from parity 0..m-1.
  batch();
  const symbols = indices.map((index) => ({ index, bytes: parity[index]! }));
  const next = xorshift(0x1055);
  const patterns = Array.from({ length: FRESH_PATTERNS }, () => lossPattern(next, k, m));
  const outputs = Array.from({ length: m }, () => new Uint8Array(shard));
  const received = (missing: readonly number[]): Uint8Array[] => {
    const rx = data.slice();
    missing.forEach((j, u) => {
      rx[j] = outputs[u]!;
    });
    return rx;
  };
  const rxSets = patterns.map(received);
  const check = rxSets[0]!;
  coder.decode(check, patterns[0]!, symbols);
  for (const j of patterns[0]!) {
    if (Buffer.compare(check[j]!, data[j]!) !== 0) throw new Error(`${label}/${kernel} ${k}+${m}: decode is wrong`);
  }
  const decodeSameLossMBps = measure(() => coder.decode(rxSets[0]!, patterns[0]!, symbols), bytes, opts);
  let p = 0;
  const decodeNewLossMBps = measure(
    () => {
      coder.decode(rxSets[p]!, patterns[p]!, symbols);
      p = (p + 1) % FRESH_PATTERNS;
    },
    bytes,
    opts,
  );
  return { coder: label, kernel, shape: `${k}+${m}`, encodeBatchMBps, encodePerSymbolMBps, decodeSameLossMBps, decodeNewLossMBps };
}

function benchWasm(wasm: WasmCoder, k: number, m: number, opts: Options): Row {
  const shard = opts.shardBytes;
  const bytes = k * shard;
  const { whole, data } = makeStripe(k, m, shard);
  const encode = (): void => {
    const rc = wasm.encode(whole, k, m);
    if (rc !== ReedSolomonErasure.RESULT_OK) throw new Error(`wasm encode failed: ${rc}`);
  };
  const encodeBatchMBps = measure(encode, bytes, opts);
  encode();
  const original = data.map((d) => Uint8Array.from(d));
  const next = xorshift(0x1055);
  const patterns = Array.from({ length: FRESH_PATTERNS }, () => lossPattern(next, k, m));
  // Data shards lost, parity shards all present: exactly m losses among k + m.
  const flags = patterns.map((missing) => Array.from({ length: k + m }, (_, i) => !missing.includes(i)));
  for (const j of patterns[0]!) data[j]!.fill(0);
  const rc = wasm.reconstruct(whole, k, m, flags[0]!);
  if (rc !== ReedSolomonErasure.RESULT_OK) throw new Error(`wasm reconstruct failed: ${rc}`);
  for (const j of patterns[0]!) if (Buffer.compare(data[j]!, original[j]!) !== 0) throw new Error('wasm reconstruct is wrong');
  const decodeSameLossMBps = measure(() => wasm.reconstruct(whole, k, m, flags[0]!), bytes, opts);
  let p = 0;
  const decodeNewLossMBps = measure(
    () => {
      wasm.reconstruct(whole, k, m, flags[p]!);
      p = (p + 1) % FRESH_PATTERNS;
    },
    bytes,
    opts,
  );
  return {
    coder: 'wasm',
    kernel: 'reed-solomon-erasure',
    shape: `${k}+${m}`,
    encodeBatchMBps,
    encodePerSymbolMBps: null,
    decodeSameLossMBps,
    decodeNewLossMBps,
  };
}

function gitCommit(root: string): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

function cpuInfo(): { model: string | null; flags: string[] } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? null;
    const all = /^flags\s*:\s*(.+)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
    const wanted = ['sse2', 'ssse3', 'sse4_1', 'avx', 'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512vbmi', 'gfni', 'vpclmulqdq'];
    return { model, flags: wanted.filter((f) => all.includes(f)) };
  } catch {
    return { model: cpus()[0]?.model ?? null, flags: [] };
  }
}

function fmt(n: number | null): string {
  return n === null ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function printTable(rows: readonly Row[], clock: keyof Rate): void {
  const head = ['coder', 'kernel', 'k+m', 'encode batch', 'encode per-symbol', 'decode m lost (same loss)', 'decode m lost (new loss)'];
  const body = rows.map((r) => [
    r.coder,
    r.kernel,
    r.shape,
    fmt(r.encodeBatchMBps[clock]),
    fmt(r.encodePerSymbolMBps?.[clock] ?? null),
    fmt(r.decodeSameLossMBps[clock]),
    fmt(r.decodeNewLossMBps[clock]),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const status = nativeRsStatus();
  const cpu = cpuInfo();
  const { commit, dirty } = gitCommit(root);
  console.log(`fec bench: shard ${opts.shardBytes} B, single thread, MB/s = 1e6 bytes of data (k * shard) per second`);
  console.log(`node ${process.version}, ${cpu.model ?? 'unknown CPU'}, flags: ${cpu.flags.join(' ')}`);
  console.log(status.loaded ? `native: ${status.path}, kernels ${status.kernels.join(', ')}` : `native: NOT LOADED (${status.reason})`);

  const wasmPath = join(root, 'node_modules', '@subspace', 'reed-solomon-erasure.wasm', 'dist', 'reed_solomon_erasure_bg.wasm');
  const wasm = ReedSolomonErasure.fromBytes(readFileSync(wasmPath));
  const loadBefore = loadavg();

  const rows: Row[] = [];
  for (const { k, m } of SHAPES) {
    for (const kernel of status.loaded ? status.kernels : []) {
      rows.push(benchCoder(new NativeReedSolomon({ kernel }), 'native', kernel, k, m, opts));
    }
    rows.push(benchCoder(new CauchyReedSolomon(), 'ts', 'reference', k, m, opts));
    rows.push(benchWasm(wasm, k, m, opts));
  }
  console.log(
    `\nMB/s by wall-clock time (load average before: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; ${cpus().length} cores)`,
  );
  printTable(rows, 'wall');
  console.log('\nMB/s by process CPU time (user + system)');
  printTable(rows, 'cpu');

  console.log('');
  const best = status.loaded ? status.bestKernel : undefined;
  for (const { k, m } of SHAPES) {
    const shape = `${k}+${m}`;
    const r = rows.find((x) => x.coder === 'native' && x.kernel === best && x.shape === shape);
    if (r === undefined) {
      console.log(`goal ${shape}: no native coder`);
      continue;
    }
    const goal = GOAL_ENCODE_MBPS[shape]!;
    const encode = r.encodeBatchMBps.wall;
    const decode = Math.min(r.decodeSameLossMBps.wall, r.decodeNewLossMBps.wall);
    console.log(
      `goal ${shape} (${best}, wall clock): encode >= ${goal} MB/s: ${encode >= goal ? 'met' : 'MISSED'} (${fmt(encode)}); ` +
        `decode >= ${goal / 2} MB/s: ${decode >= goal / 2 ? 'met' : 'MISSED'} (${fmt(decode)}, the worse of same/new loss)`,
    );
  }

  if (opts.write) {
    const startedAt = new Date();
    const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `fec-${stamp}-shard${opts.shardBytes}.json`);
    const result = {
      bench: 'fec',
      startedAt: startedAt.toISOString(),
      commit,
      dirty,
      node: process.version,
      cpuModel: cpu.model,
      cpuFlags: cpu.flags,
      cores: cpus().length,
      loadAverage: { before: loadBefore, after: loadavg() },
      native: status.loaded ? { bestKernel: status.bestKernel, kernels: status.kernels } : { notLoaded: status.reason },
      config: { shardBytes: opts.shardBytes, secondsPerRun: opts.seconds, runs: opts.runs, freshLossPatterns: FRESH_PATTERNS, shapes: SHAPES },
      units: {
        MBps: '1e6 bytes of data (k * shardBytes) per second, single thread, median of runs',
        wall: 'by wall-clock time',
        cpu: 'by process CPU time (user + system)',
      },
      rows,
    };
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
