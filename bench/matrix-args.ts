// The bench matrix's command line (`npm run bench -- ...`, see bench/bench.ts): the
// options, the defaults of the full matrix and of --quick, and their validation into a
// frozen BenchConfig. A bad option is a UsageError with one line.

import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors.js';
import {
  CONFIG_IDS,
  type ConfigId,
  configsOfTool,
  type FecTable,
  parseFecTable,
  RACKCAST_BEST_FEC,
  TOOL_CONFIGS,
  type ToolName,
  UDPCAST_FEC,
} from './peers.js';

const MiB = 1024 * 1024;

export type FileKind = 'random' | 'cpio';
export type LossMode = 'random' | 'burst';

export interface BenchConfig {
  readonly quick: boolean;
  readonly receivers: readonly number[];
  readonly lossPermilles: readonly number[];
  readonly lossModes: readonly LossMode[];
  readonly burstPackets: number;
  /** 'none' or a tc rate such as '1gbit'. */
  readonly rates: readonly string[];
  readonly configs: readonly ConfigId[];
  readonly files: readonly FileKind[];
  readonly reps: number;
  /** Size of the random image. */
  readonly sizeMiB: number;
  /** Bytes of files (before cpio and gzip) in the tree the cpio.gz image is made of. */
  readonly cpioTreeMiB: number;
  /** Per run; undefined: base + 1 s per MiB of the image (base 60 s, quick 20 s). */
  readonly timeoutS: number | undefined;
  /** A sender that puts less than 1 MB on the wire in this many seconds has stalled. */
  readonly stallS: number;
  readonly mtu: number;
  readonly rackcastFec: FecTable;
  readonly udpcastFec: FecTable;
  /** undefined: ROOT/bench/results. */
  readonly resultsDir: string | undefined;
  readonly keep: boolean;
  readonly install: boolean;
}

export const USAGE =
  'usage: npm run bench -- [--quick] [--receivers 1,4,8] [--loss 0,1,5,10] [--loss-mode random,burst] ' +
  '[--burst-packets B] [--rate none,1gbit] [--tools rackcast,udpcast,uftp|CONFIG,...] [--file random,cpio] ' +
  '[--reps R] [--size MiB] [--cpio-tree MiB] [--timeout S] [--stall S] [--mtu M] [--rackcast-fec 0=none,1=8x4/32,10=8x8/32] ' +
  '[--udpcast-fec 0=8x4/128,...] [--results-dir DIR] [--keep] [--no-install]\n' +
  '  --tools: rackcast, udpcast, uftp (all their configs), or rackcast-default, rackcast-fec, udpcast-default,\n' +
  '           udpcast-fec, uftp-line, uftp-tfmcc; --loss in percent; --quick: N=2, loss 0,5, 32 MiB, 1 rep';

/**
 * The cpio image's tree budget: on a Debian 12 host the /usr roots (bench/matrix-images.ts)
 * give 1.2 GB of files, a 363 MiB node.cpio.gz, so that a run lasts seconds and Node's start
 * (0.2 s: 0.07 s Node, 0.13 s loading rackcast's modules) is not what is measured. The
 * default before, a 128 MiB tree, made a 40 MiB image, sent in half a second.
 */
const CPIO_TREE_MIB = 2048;

const FULL_DEFAULTS = {
  receivers: [1, 4, 8],
  lossPermilles: [0, 10, 50, 100],
  rates: ['none', '1gbit'],
  configs: [...CONFIG_IDS],
  files: ['random', 'cpio'] as FileKind[],
  reps: 3,
  sizeMiB: 256,
};

const QUICK_DEFAULTS = {
  receivers: [2],
  lossPermilles: [0, 50],
  rates: ['none'],
  configs: ['rackcast', 'udpcast', 'uftp'] as ConfigId[],
  files: ['random'] as FileKind[],
  reps: 1,
  sizeMiB: 32,
};

function list(raw: string, what: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError(`--${what}: empty list`);
  return items;
}

function intIn(raw: string, what: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${what} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return n;
}

export function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** "0,1,5,10" percent (decimals allowed, an optional %) → per mille. */
export function parseLossList(raw: string): number[] {
  return unique(
    list(raw, 'loss').map((s) => {
      const m = /^(\d+(?:\.\d)?)%?$/.exec(s);
      const permille = m === null ? NaN : Math.round(Number(m[1]) * 10);
      if (!(permille >= 0 && permille < 1000)) throw new UsageError(`--loss: "${s}" is not a percentage in 0..99.9`);
      return permille;
    }),
  ).sort((a, b) => a - b);
}

export function parseRateList(raw: string): string[] {
  return unique(
    list(raw, 'rate').map((s) => {
      const r = s.toLowerCase();
      if (r !== 'none' && !/^\d+(\.\d+)?[kmgt]?(bit|bps)$/.test(r)) {
        throw new UsageError(`--rate: "${s}" is neither none nor a tc rate like 1gbit or 600mbit`);
      }
      return r;
    }),
  );
}

/**
 * Tool names (rackcast, udpcast, uftp) select all of their configurations; the other
 * config ids select one (rackcast-fec, udpcast-fec, uftp-tfmcc), and so do
 * rackcast-default, udpcast-default and uftp-line for the plain ones; "all" is all.
 */
export function parseToolList(raw: string): ConfigId[] {
  const single: Record<string, ConfigId> = {
    'rackcast-default': 'rackcast',
    'udpcast-default': 'udpcast',
    'uftp-line': 'uftp',
    'rackcast-fec': 'rackcast-fec',
    'udpcast-fec': 'udpcast-fec',
    'uftp-tfmcc': 'uftp-tfmcc',
  };
  const out = new Set<ConfigId>();
  for (const s of list(raw, 'tools')) {
    if (s === 'all') for (const c of CONFIG_IDS) out.add(c);
    else if (s === 'rackcast' || s === 'udpcast' || s === 'uftp') for (const c of configsOfTool(s)) out.add(c);
    else if (single[s] !== undefined) out.add(single[s]);
    else {
      throw new UsageError(`--tools: unknown "${s}" (rackcast, udpcast, uftp = all their configs; or one of ${Object.keys(single).join(', ')})`);
    }
  }
  return CONFIG_IDS.filter((id) => out.has(id));
}

export function parseFileList(raw: string): FileKind[] {
  return unique(
    list(raw, 'file').map((s): FileKind => {
      if (s === 'random') return 'random';
      if (s === 'cpio' || s === 'cpio.gz' || s === 'gz') return 'cpio';
      throw new UsageError(`--file: "${s}" is neither random nor cpio`);
    }),
  );
}

export function parseBenchArgs(argv: readonly string[]): BenchConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        receivers: { type: 'string' },
        loss: { type: 'string' },
        'loss-mode': { type: 'string' },
        'burst-packets': { type: 'string' },
        rate: { type: 'string' },
        tools: { type: 'string' },
        file: { type: 'string' },
        reps: { type: 'string' },
        size: { type: 'string' },
        'cpio-tree': { type: 'string' },
        timeout: { type: 'string' },
        stall: { type: 'string' },
        mtu: { type: 'string' },
        'rackcast-fec': { type: 'string' },
        'udpcast-fec': { type: 'string' },
        'results-dir': { type: 'string' },
        keep: { type: 'boolean' },
        'no-install': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help === true) throw new UsageError('help');
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const quick = values.quick === true;
  const d = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const fecTable = (k: string, dflt: FecTable): FecTable => {
    const raw = str(k);
    if (raw === undefined) return dflt;
    try {
      return parseFecTable(raw);
    } catch (e) {
      throw new UsageError(`--${k}: ${(e as Error).message}`);
    }
  };
  const receiversRaw = str('receivers');
  const lossModesRaw = str('loss-mode');
  const cfg: BenchConfig = {
    quick,
    receivers:
      receiversRaw === undefined ? d.receivers : unique(list(receiversRaw, 'receivers').map((s) => intIn(s, 'receivers', 1, 64))).sort((a, b) => a - b),
    lossPermilles: str('loss') === undefined ? d.lossPermilles : parseLossList(str('loss')!),
    lossModes:
      lossModesRaw === undefined
        ? ['random']
        : unique(
            list(lossModesRaw, 'loss-mode').map((s): LossMode => {
              if (s === 'random' || s === 'burst') return s;
              throw new UsageError(`--loss-mode: "${s}" is neither random nor burst`);
            }),
          ),
    burstPackets: str('burst-packets') === undefined ? 10 : intIn(str('burst-packets')!, 'burst-packets', 1, 1000),
    rates: str('rate') === undefined ? d.rates : parseRateList(str('rate')!),
    configs: str('tools') === undefined ? d.configs : parseToolList(str('tools')!),
    files: str('file') === undefined ? d.files : parseFileList(str('file')!),
    reps: str('reps') === undefined ? d.reps : intIn(str('reps')!, 'reps', 1, 100),
    sizeMiB: str('size') === undefined ? d.sizeMiB : intIn(str('size')!, 'size', 1, 1 << 16),
    cpioTreeMiB: str('cpio-tree') === undefined ? CPIO_TREE_MIB : intIn(str('cpio-tree')!, 'cpio-tree', 1, 4096),
    timeoutS: str('timeout') === undefined ? undefined : intIn(str('timeout')!, 'timeout', 1, 86_400),
    stallS: str('stall') === undefined ? 20 : intIn(str('stall')!, 'stall', 1, 86_400),
    mtu: str('mtu') === undefined ? 1500 : intIn(str('mtu')!, 'mtu', 576, 65535),
    rackcastFec: fecTable('rackcast-fec', RACKCAST_BEST_FEC),
    udpcastFec: fecTable('udpcast-fec', UDPCAST_FEC),
    resultsDir: str('results-dir'),
    keep: values.keep === true,
    install: values['no-install'] !== true,
  };
  return Object.freeze(cfg);
}

/** Per-run timeout for an image of this many bytes. */
export function runTimeoutMs(cfg: Pick<BenchConfig, 'timeoutS' | 'quick'>, imageBytes: number): number {
  if (cfg.timeoutS !== undefined) return cfg.timeoutS * 1000;
  return ((cfg.quick ? 20 : 60) + Math.ceil(imageBytes / MiB)) * 1000;
}

export function toolsOf(configs: readonly ConfigId[]): ToolName[] {
  return unique(configs.map((c) => TOOL_CONFIGS[c].tool));
}
