// Why one file of ~580 lines: one section per peer (its RunPlan and the parser of its
// output), so adding or checking a peer touches one place.
//
// The tools `npm run bench` compares, and how each one runs in the lab (bench/lab.ts):
// rackcast (this project's CLIs), Debian's udpcast (udp-sender / udp-receiver) and
// Debian's UFTP (uftp / uftpd).
//
// Each tool configuration becomes a RunPlan: the sender's command line, one command
// line per receiver, where every copy lands, and whether the receivers exit by
// themselves (udp-receiver, rackcast) or are daemons that the bench stops once the
// sender is done (uftpd). Plans are pure; bench.ts runs them.
//
// What each peer needs in the lab (see also `man udp-sender`, `man uftp`, `man uftpd`):
// - udpcast derives its data group from the sender's address as 232.x.y.z; the lab only
//   uses 239/8, so the sender gets --mcast-data-address. Its rendezvous goes to the
//   subnet broadcast (198.18.0.255), inside the lab. With one receiver udp-sender
//   switches to unicast by itself (its "point-to-point" default); left as it is.
// - UFTP announces on 230.4.4.1 and sends on 230.5.5.x by default: -M and -P move both
//   into 239/8, and uftpd listens on the same -M. Closed group (-H) with fixed client
//   ids (uftpd -U), so the server starts as soon as every receiver has registered.
//   No encryption is UFTP's default (-Y none). uftpd runs in the foreground (-d),
//   without DNS lookups (-q), on eth0 (-I), into a fresh directory per run (-D); UFTP
//   keeps the file's name, so the copy is DIR/<basename of the image>.
//
// Every process runs under GNU time (`/usr/bin/time -f`), so CPU seconds (user + system,
// from the kernel's rusage of the waited-for child, all threads included) are measured
// the same way for every tool. `setpriv --pdeathsig KILL` in front of time and in front
// of the tool makes the chain die with the bench: if the bench is killed, time gets
// SIGKILL, and then the tool does. A tool is stopped by signalling it (the child of
// time), never by name, so time still writes its report.

import { type ChildProcess, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import type { Rack } from './lab.js';

// ---------------------------------------------------------------- configurations

export type ToolName = 'rackcast' | 'udpcast' | 'uftp';

export const CONFIG_IDS = ['rackcast', 'rackcast-fec', 'udpcast', 'udpcast-fec', 'uftp', 'uftp-tfmcc'] as const;
export type ConfigId = (typeof CONFIG_IDS)[number];

export interface ToolConfig {
  readonly id: ConfigId;
  readonly tool: ToolName;
  /** How the table and the plot name it. */
  readonly label: string;
  /** Uses a per-loss FEC table (rackcast-fec, udpcast-fec). */
  readonly fecTable?: 'rackcast' | 'udpcast';
}

export const TOOL_CONFIGS: Readonly<Record<ConfigId, ToolConfig>> = Object.freeze({
  rackcast: { id: 'rackcast', tool: 'rackcast', label: 'rackcast' },
  'rackcast-fec': { id: 'rackcast-fec', tool: 'rackcast', label: 'rackcast --fec', fecTable: 'rackcast' },
  udpcast: { id: 'udpcast', tool: 'udpcast', label: 'udpcast' },
  'udpcast-fec': { id: 'udpcast-fec', tool: 'udpcast', label: 'udpcast --fec', fecTable: 'udpcast' },
  uftp: { id: 'uftp', tool: 'uftp', label: 'uftp -R -1' },
  'uftp-tfmcc': { id: 'uftp-tfmcc', tool: 'uftp', label: 'uftp -C tfmcc' },
});

export function isConfigId(s: string): s is ConfigId {
  return (CONFIG_IDS as readonly string[]).includes(s);
}

/** The configurations of a tool, in CONFIG_IDS order. */
export function configsOfTool(tool: ToolName): ConfigId[] {
  return CONFIG_IDS.filter((id) => TOOL_CONFIGS[id].tool === tool);
}

/**
 * FEC per loss level: the entry with the largest `fromLossPermille` not above the
 * point's loss applies; `spec` undefined means no FEC there.
 */
export type FecTable = readonly { readonly fromLossPermille: number; readonly spec: string | undefined }[];

// rackcast: nothing to protect at 0%; 4 parity per 32-block stripe (12.5%) covers 1-5%
// random loss ahead of any NAK; 8 per 32 (25%) at 10%.
export const RACKCAST_BEST_FEC: FecTable = Object.freeze([
  { fromLossPermille: 0, spec: undefined },
  { fromLossPermille: 10, spec: '8x4/32' },
  { fromLossPermille: 100, spec: '8x8/32' },
]);

// udpcast: stripes of 128 blocks (its maximum; interleave x stripe <= its 1024-block
// slice), redundancy grown with the loss so most stripes decode without a retransmit
// round (`man udp-sender`, "Tuning the forward error correction").
export const UDPCAST_FEC: FecTable = Object.freeze([
  { fromLossPermille: 0, spec: '8x4/128' },
  { fromLossPermille: 50, spec: '8x8/128' },
  { fromLossPermille: 100, spec: '8x16/128' },
]);

const FEC_SPEC_RE = /^\d{1,3}x\d{1,3}(\/\d{1,3})?$/;

export function fecFor(table: FecTable, lossPermille: number): string | undefined {
  let best: FecTable[number] | undefined;
  for (const e of table) {
    if (e.fromLossPermille <= lossPermille && (best === undefined || e.fromLossPermille >= best.fromLossPermille)) best = e;
  }
  return best?.spec;
}

/**
 * Parses "0=none,1=8x4/32,10=8x8/32" (loss in percent = FEC spec or none). Throws
 * RangeError with the offending entry.
 */
export function parseFecTable(text: string): FecTable {
  const entries: { fromLossPermille: number; spec: string | undefined }[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)) {
    const m = /^(\d+(?:\.\d+)?)%?=(.+)$/.exec(part);
    if (m === null) throw new RangeError(`FEC table entry "${part}" is not LOSS%=SPEC (e.g. 5=8x4/32 or 0=none)`);
    const permille = Math.round(Number(m[1]) * 10);
    if (!(permille >= 0 && permille <= 1000)) throw new RangeError(`FEC table entry "${part}": loss must be 0..100%`);
    const spec = m[2]!.trim();
    if (spec !== 'none' && !FEC_SPEC_RE.test(spec)) {
      throw new RangeError(`FEC table entry "${part}": spec must look like 8x4/32 or none`);
    }
    if (entries.some((e) => e.fromLossPermille === permille)) throw new RangeError(`FEC table: loss ${m[1]}% given twice`);
    entries.push({ fromLossPermille: permille, spec: spec === 'none' ? undefined : spec });
  }
  if (entries.length === 0) throw new RangeError('FEC table is empty');
  entries.sort((a, b) => a.fromLossPermille - b.fromLossPermille);
  return Object.freeze(entries);
}

export function formatFecTable(table: FecTable): string {
  return table.map((e) => `${e.fromLossPermille / 10}=${e.spec ?? 'none'}`).join(',');
}

// ---------------------------------------------------------------- plans

// Groups and ports, all in 239/8. rackcast keeps its own defaults (239.192.67.1/.2,
// ports 9000/9001), which are in 239/8 already.
export const UDPCAST_DATA_GROUP = '239.192.68.1';
export const UFTP_PUBLIC_GROUP = '239.192.68.3';
export const UFTP_PRIVATE_GROUP = '239.192.68.4';

export interface PlanContext {
  /** The node binary for rackcast's CLIs. */
  readonly nodePath: string;
  /** The project root: rackcast's CLIs are ROOT/dist/{sender,receiver}/cli.js. */
  readonly root: string;
  readonly inputPath: string;
  /** Suffix for the copies, e.g. ".bin" or ".cpio.gz" (rackcast's receiver keeps a *.gz as sent). */
  readonly outputSuffix: string;
  /** A fresh directory for this run. */
  readonly workDir: string;
  readonly senderAddr: string;
  readonly receiverAddrs: readonly string[];
  readonly lossPermille: number;
  readonly rackcastFec: FecTable;
  readonly udpcastFec: FecTable;
}

export interface RunPlan {
  readonly config: ConfigId;
  /** The FEC spec this run uses, if any. */
  readonly fec: string | undefined;
  readonly sender: readonly string[];
  readonly receivers: readonly (readonly string[])[];
  /** uftpd never exits by itself: the bench stops it once the sender is done. */
  readonly receiversAreDaemons: boolean;
  /** Where receiver i's copy lands. */
  readonly outputs: readonly string[];
  /** Directories to create before the run. */
  readonly dirs: readonly string[];
  /** uftp's -S status file, if any. */
  readonly statusFile?: string;
}

/** uftpd's client id of receiver i (0-based): 0x00000001, 0x00000002, … */
export function uftpClientId(i: number): string {
  return `0x${(i + 1).toString(16).padStart(8, '0')}`;
}

/** The FEC spec a config uses at a loss level (undefined: none). */
export function fecOfConfig(id: ConfigId, ctx: Pick<PlanContext, 'lossPermille' | 'rackcastFec' | 'udpcastFec'>): string | undefined {
  const table = TOOL_CONFIGS[id].fecTable;
  if (table === undefined) return undefined;
  return fecFor(table === 'rackcast' ? ctx.rackcastFec : ctx.udpcastFec, ctx.lossPermille);
}

export function planRun(id: ConfigId, ctx: PlanContext): RunPlan {
  const n = ctx.receiverAddrs.length;
  const fec = fecOfConfig(id, ctx);
  const tool = TOOL_CONFIGS[id].tool;
  if (tool === 'rackcast') {
    const outputs = ctx.receiverAddrs.map((_, i) => join(ctx.workDir, `copy-${i + 1}${ctx.outputSuffix}`));
    return {
      config: id,
      fec,
      sender: [
        ctx.nodePath,
        join(ctx.root, 'dist', 'sender', 'cli.js'),
        '--file',
        ctx.inputPath,
        '--nokbd',
        '--min-receivers',
        String(n),
        '--interface',
        ctx.senderAddr,
        '--json',
        ...(fec === undefined ? [] : ['--fec', fec]),
      ],
      receivers: ctx.receiverAddrs.map((addr, i) => [
        ctx.nodePath,
        join(ctx.root, 'dist', 'receiver', 'cli.js'),
        '--file',
        outputs[i]!,
        '--interface',
        addr,
        '--json',
      ]),
      receiversAreDaemons: false,
      outputs,
      dirs: [],
    };
  }
  if (tool === 'udpcast') {
    const outputs = ctx.receiverAddrs.map((_, i) => join(ctx.workDir, `copy-${i + 1}${ctx.outputSuffix}`));
    return {
      config: id,
      fec,
      sender: [
        'udp-sender',
        '--file',
        ctx.inputPath,
        '--nokbd',
        '--min-receivers',
        String(n),
        '--interface',
        'eth0',
        '--mcast-data-address',
        UDPCAST_DATA_GROUP,
        ...(fec === undefined ? [] : ['--fec', fec]),
      ],
      receivers: outputs.map((out) => ['udp-receiver', '--file', out, '--nokbd', '--interface', 'eth0']),
      receiversAreDaemons: false,
      outputs,
      dirs: [],
    };
  }
  const dirs = ctx.receiverAddrs.map((_, i) => join(ctx.workDir, `uftpd-${i + 1}`));
  const statusFile = join(ctx.workDir, 'uftp-status.txt');
  const hosts = ctx.receiverAddrs.map((_, i) => uftpClientId(i)).join(',');
  const rateArgs = id === 'uftp-tfmcc' ? ['-C', 'tfmcc'] : ['-R', '-1'];
  return {
    config: id,
    fec: undefined,
    sender: ['uftp', '-I', 'eth0', '-M', UFTP_PUBLIC_GROUP, '-P', UFTP_PRIVATE_GROUP, '-H', hosts, ...rateArgs, '-S', statusFile, ctx.inputPath],
    receivers: dirs.map((dir, i) => ['uftpd', '-d', '-q', '-I', 'eth0', '-M', UFTP_PUBLIC_GROUP, '-U', uftpClientId(i), '-D', dir]),
    receiversAreDaemons: true,
    outputs: dirs.map((dir) => join(dir, basename(ctx.inputPath))),
    dirs,
    statusFile,
  };
}

// ---------------------------------------------------------------- output parsing

/** What GNU time wrote with TIME_FORMAT. */
export interface TimeUsage {
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  maxRssKiB: number;
  /** The program's exit status as time saw it (a signal: "Command terminated by signal N" and 0 here). */
  exitStatus: number;
  /** Set when time reported "Command terminated by signal N". */
  terminatedBySignal?: number;
}

export const TIME_MARK = 'RCBENCH_TIME';
export const TIME_FORMAT = `${TIME_MARK} %e %U %S %M %x`;

export function parseTimeReport(text: string): TimeUsage | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${TIME_MARK} `));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length !== 5 || f.some((x) => !Number.isFinite(x))) return undefined;
  const sig = /Command terminated by signal (\d+)/.exec(text);
  const usage: TimeUsage = { wallSeconds: f[0]!, userSeconds: f[1]!, systemSeconds: f[2]!, maxRssKiB: f[3]!, exitStatus: f[4]! };
  if (sig !== null) usage.terminatedBySignal = Number(sig[1]);
  return usage;
}

/** udpcast ends its last line with a bell: "Transfer complete.\x07". */
function isTransferComplete(line: string): boolean {
  return /^\s*Transfer complete\./.test(line);
}

/** "16 777 216" (udpcast groups digits with spaces) → 16777216. */
function udpcastNumber(s: string): number {
  return Number(s.replace(/\s+/g, ''));
}

export interface UdpSenderReport {
  /** Bytes sent, from the last progress line. */
  bytes: number | undefined;
  /** Retransmitted blocks, from the last progress line. */
  rexmits: number | undefined;
  /** Receivers that connected. */
  connections: number;
  /** "Transfer complete." was printed. */
  complete: boolean;
}

/** Parses udp-sender's stderr (progress lines end in \r; the last one counts). */
export function parseUdpSenderStderr(text: string): UdpSenderReport {
  const lines = text.split(/[\r\n]+/);
  let bytes: number | undefined;
  let rexmits: number | undefined;
  for (const l of lines) {
    const m = /bytes=\s*([\d ]+?)\s+re-xmits=\s*(\d+)/.exec(l);
    if (m !== null) {
      bytes = udpcastNumber(m[1]!);
      rexmits = Number(m[2]);
    }
  }
  return {
    bytes,
    rexmits,
    connections: lines.filter((l) => /^New connection from /.test(l)).length,
    complete: lines.some(isTransferComplete),
  };
}

export interface UdpReceiverReport {
  bytes: number | undefined;
  complete: boolean;
}

export function parseUdpReceiverStderr(text: string): UdpReceiverReport {
  const lines = text.split(/[\r\n]+/);
  let bytes: number | undefined;
  for (const l of lines) {
    const m = /^\s*bytes=\s*([\d ]+?)\s+\(/.exec(l);
    if (m !== null) bytes = udpcastNumber(m[1]!);
  }
  return { bytes, complete: lines.some(isTransferComplete) };
}

export interface UftpStatus {
  /** CONNECT;status;target */
  connects: { target: string; ok: boolean }[];
  /** RESULT;target;filename;size;status;speed */
  results: { target: string; file: string; sizeKB: number; status: string; speedKBps: number }[];
  /** STATS;target;num_copy;num_overwrite;num_skip;total_size;time;speed */
  stats: { target: string; copied: number; seconds: number; speedKBps: number }[];
}

/** Parses uftp's -S status file (format in `man uftp`, option -S). */
export function parseUftpStatus(text: string): UftpStatus {
  const out: UftpStatus = { connects: [], results: [], stats: [] };
  for (const raw of text.split('\n')) {
    const f = raw.trim().split(';');
    if (f[0] === 'CONNECT' && f.length >= 3) out.connects.push({ target: f[2]!, ok: f[1] === 'success' });
    else if (f[0] === 'RESULT' && f.length >= 6) {
      out.results.push({ target: f[1]!, file: f[2]!, sizeKB: parseFloat(f[3]!), status: f[4]!, speedKBps: parseFloat(f[5]!) });
    } else if (f[0] === 'STATS' && f.length >= 8) {
      out.stats.push({ target: f[1]!, copied: Number(f[2]), seconds: parseFloat(f[6]!), speedKBps: parseFloat(f[7]!) });
    }
  }
  return out;
}

/** Client ids that uftp's status lists as having received a file ("copy" or "overwrite"). */
export function uftpCopiedTargets(status: UftpStatus): Set<string> {
  return new Set(status.results.filter((r) => r.status === 'copy' || r.status === 'overwrite').map((r) => r.target.toLowerCase()));
}

// ---------------------------------------------------------------- installing peers

function findExecutable(name: string): string | undefined {
  if (name.startsWith('/')) {
    try {
      accessSync(name, fsConstants.X_OK);
      return name;
    } catch {
      return undefined;
    }
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

export const TIME_BIN = '/usr/bin/time';

/** Debian package of each command the bench runs. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  'udp-sender': 'udpcast',
  'udp-receiver': 'udpcast',
  uftp: 'uftp',
  uftpd: 'uftp',
  [TIME_BIN]: 'time',
  setpriv: 'util-linux',
  cpio: 'cpio',
  gzip: 'gzip',
};

/** The commands a bench with these tools (and file kinds) needs. */
export function neededCommands(tools: readonly ToolName[], needCpio: boolean): string[] {
  const cmds = [TIME_BIN, 'setpriv'];
  if (tools.includes('udpcast')) cmds.push('udp-sender', 'udp-receiver');
  if (tools.includes('uftp')) cmds.push('uftp', 'uftpd');
  if (needCpio) cmds.push('cpio', 'gzip');
  return cmds;
}

/** Debian packages that provide the missing ones among cmds (deduplicated, sorted). */
export function missingPackages(cmds: readonly string[], have: (cmd: string) => boolean = (c) => findExecutable(c) !== undefined): string[] {
  return [...new Set(cmds.filter((c) => !have(c)).map((c) => PACKAGE_OF[c] ?? c))].sort();
}

/**
 * Installs the Debian packages for the missing commands with apt-get (root only),
 * saying what it installs. Returns an error message, or undefined when all is there.
 */
export function ensureCommands(cmds: readonly string[], opts: { install: boolean; say: (line: string) => void }): string | undefined {
  const pkgs = missingPackages(cmds);
  if (pkgs.length === 0) return undefined;
  if (!opts.install) return `missing Debian packages: ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')})`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): number | null => {
    opts.say(`bench: installing from Debian's packages: apt-get install -y --no-install-recommends ${pkgs.join(' ')}`);
    return spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'], env }).status;
  };
  if (install() !== 0) {
    // A stale package list is the usual reason; refresh once and retry.
    opts.say('bench: apt-get install failed; running apt-get update and trying again');
    spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (install() !== 0) return `apt-get install ${pkgs.join(' ')} failed`;
  }
  const still = missingPackages(cmds);
  if (still.length > 0) return `still missing after apt-get: ${still.join(' ')}`;
  if (pkgs.includes('uftp')) {
    opts.say("bench: note: Debian's uftp package enables a uftpd service on this host; the bench does not use it " + '(systemctl disable --now uftp stops it)');
  }
  return undefined;
}

/** Installed version of Debian packages (null: not installed or no dpkg). */
export function packageVersions(pkgs: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const p of pkgs) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
    const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', p], { encoding: 'utf8' });
    out[p] = r.status === 0 && r.stdout.trim().length > 0 ? r.stdout.trim() : null;
  }
  return out;
}

// ---------------------------------------------------------------- measured processes

export interface MeasuredResult {
  /** Exit code of the wrapper (time passes the program's code through). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last stdoutTailBytes of stdout, and of stderr. */
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** performance.now() when the wrapper exited. */
  endedAt: number;
  usage: TimeUsage | undefined;
}

export interface MeasuredProcess {
  readonly ns: string;
  readonly done: Promise<MeasuredResult>;
  /** True until the wrapper has exited. */
  running(): boolean;
  /** SIGTERM to the program, SIGKILL to program and wrapper after graceMs. Resolves on exit. */
  stop(graceMs?: number): Promise<MeasuredResult>;
}

const DEFAULT_STOP_GRACE_MS = 3_000;
const WRAPPER_KILL_DELAY_MS = 1_000;

/** The pids of a process's children (Linux /proc/PID/task/PID/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s.length > 0)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** A bounded tail of a stream's text. */
function tailCollector(limit: number): { push(d: Buffer): void; text(): string } {
  let text = '';
  return {
    push(d) {
      text += d.toString();
      if (text.length > 2 * limit) text = text.slice(-limit);
    },
    text: () => (text.length > limit ? text.slice(-limit) : text),
  };
}

/**
 * Starts argv in namespace ns under GNU time (report to timeFile), with the
 * pdeathsig chain described at the top of this file. The wrapper is a child that
 * rack.exec() tracks, so rack.destroy() ends it too (and with it the program).
 */
export function startMeasured(
  rack: Rack,
  ns: string,
  argv: readonly string[],
  opts: { timeFile: string; timeoutMs: number; cwd?: string; stdoutTailBytes?: number; stderrTailBytes?: number },
): MeasuredProcess {
  const wrapped = ['setpriv', '--pdeathsig', 'KILL', '--', TIME_BIN, '-o', opts.timeFile, '-f', TIME_FORMAT, 'setpriv', '--pdeathsig', 'KILL', '--', ...argv];
  const child: ChildProcess = rack.exec(ns, wrapped, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  const out = tailCollector(opts.stdoutTailBytes ?? 1 << 20);
  const err = tailCollector(opts.stderrTailBytes ?? 64 << 10);
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.on('data', (d: Buffer) => err.push(d));
  let exited = false;
  let timedOut = false;
  let hardKill: NodeJS.Timeout | undefined;

  // The program is the wrapper's only child; signal it, not the wrapper, so time
  // still reports. Only pids found under our own wrapper are ever signalled.
  const signalProgram = (sig: NodeJS.Signals): void => {
    if (exited || child.pid === undefined) return;
    for (const pid of childPids(child.pid)) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const escalate = (graceMs: number): void => {
    signalProgram('SIGTERM');
    if (hardKill === undefined) {
      hardKill = setTimeout(() => {
        // The program first, so time can still report it; the wrapper only if it hangs on.
        signalProgram('SIGKILL');
        hardKill = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, WRAPPER_KILL_DELAY_MS);
      }, graceMs);
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    escalate(DEFAULT_STOP_GRACE_MS);
  }, opts.timeoutMs);

  const done = new Promise<MeasuredResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
      if (exited) return;
      exited = true;
      const endedAt = performance.now();
      clearTimeout(timer);
      clearTimeout(hardKill);
      let usage: TimeUsage | undefined;
      try {
        usage = parseTimeReport(readFileSync(opts.timeFile, 'utf8'));
      } catch {
        usage = undefined;
      }
      resolve({ code, signal, stdout: out.text(), stderr: err.text() + extra, timedOut, endedAt, usage });
    };
    child.once('error', (e) => finish(null, null, `\nspawn error: ${e.message}`));
    child.once('close', (code, signal) => finish(code, signal));
  });

  return {
    ns,
    done,
    running: () => !exited,
    stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      escalate(graceMs);
      return done;
    },
  };
}
