// The long fuzz run (`npm run fuzz`): the harness of test/sim/fuzz (test/support/fuzz/) for
// minutes instead of seconds. Seeds run in order from --seed (default: from the clock,
// printed), alternating 'foreign' (hostile datagrams from a stranger's address: every
// receiver must verify) and 'spoof' (in the peers' own names: no throw, no spin, an end,
// nobody finishes wrong); every third transfer is a big one (up to 8 receivers, larger
// images and blocks), and each seed also sends 20k hostile datagrams straight at the
// decoders. The first violation stops the run with the seed and the command that replays it.
//
// Usage: node dist/bench/fuzz.js [--minutes M] [--seed N] [--runs R] [--mode foreign|spoof|both]
//                                [--big] [--ratio H] [--json] [--trace]
//   --minutes  stop after M minutes (default 5)            --runs  stop after R seeds
//   --ratio    hostile datagrams per genuine one (default: from each seed, 0.1..2; 0 shows
//              the same seed's transfer without them)
//   --big      every transfer big                          --json  one JSON summary line at the end
//   --trace    every datagram as it is delivered, on stderr (to replay one seed by hand)
// Exit 0 when no property broke, 1 on a violation (printed), 2 on a usage error.

import { arch, cpus, platform } from 'node:os';
import { fuzzDecoders } from '../test/support/fuzz/decoders.js';
import { addCounts, type FuzzMode, FuzzViolation, runTransferFuzz } from '../test/support/fuzz/transfer.js';

interface Args {
  minutes: number;
  seed: number;
  runs: number;
  modes: FuzzMode[];
  big: boolean;
  ratio: number | undefined;
  json: boolean;
  trace: boolean;
}

function usage(msg: string): never {
  process.stderr.write(
    `fuzz: ${msg}\nusage: node dist/bench/fuzz.js [--minutes M] [--seed N] [--runs R] [--mode foreign|spoof|both] [--big] [--ratio H] [--json] [--trace]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    minutes: 5,
    seed: Date.now() % 1_000_000_000,
    runs: Infinity,
    modes: ['foreign', 'spoof'],
    big: false,
    ratio: undefined,
    json: false,
    trace: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    const num = (lo: number): number => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < lo) usage(`${flag}: expected a number >= ${lo}`);
      return n;
    };
    switch (flag) {
      case '--minutes':
        a.minutes = num(0);
        break;
      case '--seed':
        a.seed = Math.floor(num(0));
        break;
      case '--runs':
        a.runs = Math.floor(num(1));
        break;
      case '--mode': {
        const m = value();
        if (m === 'both') a.modes = ['foreign', 'spoof'];
        else if (m === 'foreign' || m === 'spoof') a.modes = [m];
        else usage(`--mode: foreign, spoof or both, not ${m}`);
        break;
      }
      case '--big':
        a.big = true;
        break;
      case '--ratio':
        a.ratio = num(0);
        break;
      case '--json':
        a.json = true;
        break;
      case '--trace':
        a.trace = true;
        break;
      default:
        usage(`unknown option ${flag}`);
    }
  }
  return a;
}

function main(): number {
  const a = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const deadline = started + a.minutes * 60_000;
  const totals = {
    runs: 0,
    runsByMode: {} as Record<string, number>,
    hostile: 0,
    genuine: 0,
    decoderDatagrams: 0,
    receivers: 0,
    receiversOkSpoof: 0,
    receiversSpoof: 0,
    hostileByKind: {} as Record<string, number>,
    hostileByType: {} as Record<string, number>,
    drops: {} as Record<string, number>,
    decoderResults: {} as Record<string, number>,
  };
  process.stderr.write(
    `fuzz: from seed ${a.seed}, modes ${a.modes.join('+')}, ${a.runs === Infinity ? `${a.minutes} min` : `${a.runs} seed(s)`} ` +
      `(node ${process.version}, ${platform()}/${arch()}, ${cpus().length} cpu)\n`,
  );
  let lastReport = started;
  let seed = a.seed;
  for (let i = 0; i < a.runs && performance.now() < deadline; i++, seed++) {
    const mode = a.modes[i % a.modes.length]!;
    const big = a.big || seed % 3 === 0;
    try {
      addCounts(totals.decoderResults, fuzzDecoders(seed, 20_000));
      totals.decoderDatagrams += 20_000;
      const trace = a.trace ? (line: string): void => void process.stderr.write(`${line}\n`) : undefined;
      const r = runTransferFuzz({ seed, mode, big, hostileRatio: a.ratio, trace });
      totals.runs++;
      totals.runsByMode[mode] = (totals.runsByMode[mode] ?? 0) + 1;
      totals.hostile += r.hostile;
      totals.genuine += r.genuine;
      totals.receivers += r.receivers;
      if (mode === 'spoof') {
        totals.receiversSpoof += r.receivers;
        totals.receiversOkSpoof += r.receiversOk;
      }
      addCounts(totals.hostileByKind, r.hostileByKind);
      addCounts(totals.hostileByType, r.hostileByType);
      addCounts(totals.drops, r.drops);
    } catch (e) {
      const what = e instanceof FuzzViolation ? e.message : `seed ${seed} (${mode}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      process.stderr.write(
        `fuzz: VIOLATION after ${totals.runs} clean run(s)\n${what}\n` +
          `replay: node dist/bench/fuzz.js --seed ${seed} --mode ${mode} --runs 1${big ? ' --big' : ''}${a.ratio !== undefined ? ` --ratio ${a.ratio}` : ''}\n`,
      );
      return 1;
    }
    const now = performance.now();
    if (now - lastReport >= 10_000) {
      lastReport = now;
      process.stderr.write(
        `fuzz: ${((now - started) / 1000).toFixed(0)} s, seed ${seed}: ${totals.runs} transfers clean, ` +
          `${totals.hostile} hostile datagrams at the cores, ${totals.decoderDatagrams} at the decoders\n`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `fuzz: ${totals.runs} transfers (${JSON.stringify(totals.runsByMode)}) clean in ${seconds.toFixed(1)} s, seeds ${a.seed}..${seed - 1}\n` +
      `  ${totals.hostile} hostile datagrams among ${totals.genuine} genuine ones, by kind ${JSON.stringify(totals.hostileByKind)}\n` +
      `  by type ${JSON.stringify(totals.hostileByType)}\n` +
      `  dropped by the cores, by reason: ${JSON.stringify(totals.drops)}\n` +
      `  spoof mode: ${totals.receiversOkSpoof} of ${totals.receiversSpoof} receivers verified, the rest failed cleanly\n` +
      `  decoders: ${totals.decoderDatagrams} datagrams, results ${JSON.stringify(totals.decoderResults)}\n`,
  );
  if (a.json) process.stdout.write(JSON.stringify({ ok: true, seconds, firstSeed: a.seed, lastSeed: seed - 1, ...totals }) + '\n');
  return 0;
}

process.exitCode = main();
