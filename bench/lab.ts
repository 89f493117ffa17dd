// Why one file of ~870 lines: the lock, the rack's setup and teardown, the stale-rack
// sweep and the link probes all share the naming scheme and the state directory described
// here; a reader debugging a lab run needs them side by side.
//
// The network lab: a "rack" on one machine. A sender and N receivers, each in its
// own network namespace, joined by one bridge (the switch). Same recipe as
// ../shared/lab/netlab.sh, with names that cannot collide with its mls/mlr*/mlbr:
//
//   namespace   rcs<tag>                 sender, 198.18.0.1/24
//               rcr<tag>x<i>             receiver i (1..N), 198.18.0.(10+i)/24
//   bridge      rcbr<tag>                in the root namespace, no address
//   veth (host) rcv<tag>s, rcv<tag>r<i>  bridge ports; the namespace end is eth0
//
// <tag> is this process's pid in base 36 plus a per-process sequence character, so
// two processes (or two racks in one process) never pick the same names, and every
// interface name stays within IFNAMSIZ (15).
//
// Loss is dropped by nftables on the switch, at each receiver's port (one table of family
// bridge in the root namespace, rcloss<tag>, hook forward, one rule per port; UDP only, so
// ARP and IGMP are untouched):
//   random  oifname PORT meta l4proto udp numgen random mod 1000 < N drop   (as netlab.sh)
//   burst   oifname PORT meta l4proto udp numgen inc mod P  X-(X+B-1) drop
// On the switch, not in the receiver's namespace: every node's eth0 has GRO on, as a
// physical NIC's driver has by default, and GRO merges the datagrams of one flow before the
// namespace's own hooks see them, so a drop there would take up to 64 datagrams at once from
// a receiver whose socket asks for UDP GRO (rackcast's does; udpcast's and UFTP's do not).
// Burst mode drops runs of B consecutive UDP datagrams, one run every
// P = round(B * 1000 / N) datagrams, starting at a random phase X per receiver: the
// average loss is N per mille as in random mode, the losses at one receiver come in
// runs of exactly B, and different receivers lose different runs. It is periodic,
// not a Gilbert-Elliott chain: this kernel has no sch_netem, and nftables has no
// per-packet state to carry "in a burst" from one datagram to the next except
// timed set elements, whose loss rate would depend on the packet rate.
//
// The sender's eth0 gets gso_max_segs 1 (UDP GSO is segmented in software before
// the "wire", like a NIC without segmentation offload) and, with `rate`, a token
// bucket like a real port: tc tbf rate R burst 64kb latency 20ms (burst: rateBurstBytes).
//
// Everything is created in namespaces and on a bridge that this module makes, with
// addresses in 198.18.0.0/15 only. Receivers get a 224.0.0.0/4 route and no default
// route, so a program that tries to reach any other address fails loudly instead of
// shouting into the bridge. Lab runs share CPU and should share nothing else: take
// the lab lock (withLabLock / acquireLabLock) around a run so two never overlap.

import { type ChildProcess, execFile, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, createReadStream, constants as fsConstants, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { parseSnmpUdp } from '../common/kernel-counters.js';

export const LAB_LOCK_PATH = '/tmp/rackcast-lab.lock';
/** One JSON file per live rack, listing what it created, so a run that was killed
 *  with SIGKILL can be cleaned up by the next one (see cleanupStaleRacks). */
export const LAB_STATE_DIR = '/tmp/rackcast-lab-state';

export const SENDER_ADDR = '198.18.0.1';
const PREFIX_LEN = 24;
const RECEIVER_ADDR_BASE = 10; // receiver i is 198.18.0.(10 + i)
export const MAX_RECEIVERS = 240;
const DEFAULT_MTU = 1500;
const DEFAULT_BURST_PACKETS = 10;
const DEFAULT_RATE_BURST_BYTES = 64 * 1024;
const KILL_GRACE_MS = 2_000;

export interface RackOptions {
  /** Number of receiver namespaces, 1..MAX_RECEIVERS. */
  receivers: number;
  /** UDP datagrams dropped at each receiver, per 1000 (0..1000). Default 0. */
  lossPermille?: number;
  /** Drop in runs of burstPackets consecutive datagrams instead of at random. */
  burst?: boolean;
  /** Run length in burst mode. Default 10. */
  burstPackets?: number;
  /** tc rate for the sender's port, e.g. '1gbit' or '600mbit'. Default: no limit. */
  rate?: string;
  /**
   * With rate: the token bucket's burst in bytes. Default 64 KiB, like a real port. A rack of
   * many receivers wants a burst of a frame or two: the bridge floods each frame to every
   * port through one CPU's backlog (net.core.netdev_max_backlog, 1000 by default), and a
   * 64 KiB burst flooded to 32 ports overflows it, a loss that no real switch adds.
   */
  rateBurstBytes?: number;
  /** MTU of every link. Default 1500. */
  mtu?: number;
  /**
   * The bridge snoops IGMP and is the querier, as a managed switch is: a group's DATA goes
   * only to the ports whose report it heard. Its own queries (which make every host report
   * again) are put off for SNOOPING_QUERY_INTERVAL_S, so a report lost stays lost for a
   * test's length. Default false: the bridge floods multicast to every port.
   */
  snooping?: boolean;
}

/** With `snooping`: seconds between the bridge's queries (and between its two start-up ones). */
export const SNOOPING_QUERY_INTERVAL_S = 600;
/** With `snooping`: seconds the bridge waits after coming up before it forwards by what it snooped (its query response interval). */
export const SNOOPING_SETTLE_S = 1;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  wallMs: number;
  /** True if the run was killed because it exceeded timeoutMs. */
  timedOut: boolean;
}

export interface RunOptions extends SpawnOptions {
  /** Kill the process (SIGTERM, then SIGKILL) after this long. Default: never. */
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed. */
  input?: string | Buffer;
}

export interface Rack {
  readonly tag: string;
  readonly bridge: string;
  readonly senderNs: string;
  readonly receiverNs: readonly string[];
  readonly senderAddr: string;
  readonly receiverAddrs: readonly string[];
  readonly mtu: number;
  readonly lossPermille: number;
  readonly burst: boolean;
  readonly rate: string | undefined;
  /** UDP datagrams the loss rule has dropped so far, per receiver (0 without loss). */
  droppedPackets(): Promise<number[]>;
  /** Spawns `ip netns exec NS argv...`. The child is killed by destroy() if it is
   *  still running then. */
  exec(ns: string, argv: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** exec() and collect stdout/stderr until exit. Never rejects on a non-zero exit. */
  run(ns: string, argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Kills children started through exec(), removes every link and namespace this
   *  rack created. Idempotent. Also runs on process exit, SIGINT and SIGTERM. */
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------- environment

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

const TOOL_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...TOOL_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const TOOLS = ['ip', 'nft', 'tc', 'ethtool'] as const;

/** The lab's tools that are not installed. */
export function missingTools(): string[] {
  return TOOLS.filter((t) => findTool(t) === undefined);
}

/** True if ip, nft, tc and ethtool are all present. */
export function haveTools(): boolean {
  return missingTools().length === 0;
}

/** Why a lab run cannot happen here, or undefined if it can. */
export function labSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (!isRoot()) return 'needs root (uid 0) to create network namespaces';
  const missing = missingTools();
  if (missing.length > 0) {
    return `missing tools: ${missing.join(', ')} (apt-get install iproute2 nftables ethtool)`;
  }
  return undefined;
}

// ---------------------------------------------------------------- commands

/**
 * Variables of the machine running the bench that a node being imaged does not have, and
 * that cost the processes under test: NODE_EXTRA_CA_CERTS makes every Node process parse a
 * certificate bundle at start (35 ms of CPU on the dev VM, a quarter of a receiver's start).
 */
export const NOT_ON_A_NODE = ['NODE_EXTRA_CA_CERTS'] as const;

/** The environment of a process in the lab: ours, less NOT_ON_A_NODE. */
export function labEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of NOT_ON_A_NODE) delete env[k];
  return env;
}

const toolPaths = new Map<string, string>();

function tool(name: string): string {
  let p = toolPaths.get(name);
  if (p === undefined) {
    p = findTool(name) ?? name;
    toolPaths.set(name, p);
  }
  return p;
}

export class LabCommandError extends Error {
  readonly code = 'ERR_LAB_COMMAND';
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`lab command failed: ${argv.join(' ')}: ${stderr.trim()}`);
  }
}

/** Runs a command in the root namespace; resolves with what it printed. */
function sh(argv: readonly string[], input?: string): Promise<string> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = execFile(tool(cmd!), args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new LabCommandError(argv, String(stderr) || error.message));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** Best effort, synchronous: used from the 'exit' handler, where nothing async runs. */
function shSync(argv: readonly string[]): void {
  const [cmd, ...args] = argv;
  spawnSync(tool(cmd!), args, { stdio: 'ignore', timeout: 10_000 });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------- lock

export interface LabLock {
  release(): Promise<void>;
}

let lockDepth = 0;
let heldLock: ChildProcess | undefined;

/**
 * Takes the lab lock: flock(1) on LAB_LOCK_PATH, held by a child `flock` process
 * whose command waits for its stdin to close. Releasing closes stdin; if this
 * process dies, the pipe closes with it and the lock goes too. Re-entrant within a
 * process (a nested acquire only counts).
 */
export async function acquireLabLock(opts: { waitSeconds?: number } = {}): Promise<LabLock> {
  if (lockDepth > 0) {
    lockDepth++;
    return {
      release: async () => {
        lockDepth = Math.max(0, lockDepth - 1);
      },
    };
  }
  const waitSeconds = opts.waitSeconds ?? 3600;
  const child = spawn(tool('flock'), ['-x', '-w', String(waitSeconds), LAB_LOCK_PATH, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const waitingNote = setTimeout(() => {
    process.stderr.write(`lab: waiting for ${LAB_LOCK_PATH} (another lab run holds it)\n`);
  }, 1_000);
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('locked')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`lab: could not take ${LAB_LOCK_PATH} (flock exit ${code}) ${stderr.trim()}`)));
    });
  } finally {
    clearTimeout(waitingNote);
  }
  // Keep the lock child from holding the event loop open on its own (a caller that
  // forgets release() still exits, and the lock goes with it).
  setRef(child, false);
  heldLock = child;
  lockDepth = 1;
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      lockDepth = 0;
      heldLock = undefined;
      if (child.exitCode !== null || child.signalCode !== null) return;
      // Referenced again while we wait, or the loop could end (exit code 13) mid-await.
      setRef(child, true);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.end();
      await exited;
    },
  };
}

function setRef(child: ChildProcess, ref: boolean): void {
  type Refable = { ref?: () => void; unref?: () => void } | null;
  for (const h of [child, child.stdin, child.stdout, child.stderr] as unknown as Refable[]) {
    if (ref) h?.ref?.();
    else h?.unref?.();
  }
}

/** Runs fn while holding the lab lock, and cleans up racks that a killed run left. */
export async function withLabLock<T>(fn: () => Promise<T>, opts: { waitSeconds?: number } = {}): Promise<T> {
  const lock = await acquireLabLock(opts);
  try {
    cleanupStaleRacks();
    return await fn();
  } finally {
    await lock.release();
  }
}

// ---------------------------------------------------------------- stale state

interface RackState {
  pid: number;
  tag: string;
  createdAt: string;
  bridge: string;
  hostIfs: string[];
  namespaces: string[];
  /** The loss table (family bridge, root namespace); absent in state files of older builds and without loss. */
  lossTable?: string;
}

function statePath(tag: string): string {
  return join(LAB_STATE_DIR, `${tag}.json`);
}

function writeState(state: RackState): void {
  mkdirSync(LAB_STATE_DIR, { recursive: true });
  writeFileSync(statePath(state.tag), JSON.stringify(state));
}

function removeState(tag: string): void {
  try {
    unlinkSync(statePath(tag));
  } catch {
    // already gone
  }
}

/**
 * Removes the links and namespaces recorded by racks whose process is gone (killed
 * with SIGKILL, or a machine-level crash of the test runner). Only names this
 * module recorded are touched. Returns the tags cleaned.
 */
export function cleanupStaleRacks(): string[] {
  let files: string[];
  try {
    files = readdirSync(LAB_STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const cleaned: string[] = [];
  for (const f of files) {
    let state: RackState;
    try {
      state = JSON.parse(readFileSync(join(LAB_STATE_DIR, f), 'utf8')) as RackState;
    } catch {
      continue;
    }
    if (typeof state.pid !== 'number' || state.pid === process.pid || isAlive(state.pid)) continue;
    teardownSync(state.hostIfs, state.namespaces, state.bridge, state.lossTable);
    removeState(state.tag);
    cleaned.push(state.tag);
  }
  return cleaned;
}

function teardownSync(hostIfs: readonly string[], namespaces: readonly string[], bridge: string | undefined, lossTable: string | undefined): void {
  if (lossTable !== undefined) shSync(['nft', 'delete', 'table', 'bridge', lossTable]);
  for (const ifname of hostIfs) shSync(['ip', 'link', 'del', ifname]);
  for (const ns of namespaces) shSync(['ip', 'netns', 'del', ns]);
  if (bridge !== undefined) shSync(['ip', 'link', 'del', bridge]);
}

/** Udp RcvbufErrors from /proc/net/snmp, which is per network namespace: datagrams a receiver's socket had no room for. */
export async function rcvbufErrors(rack: Rack, ns: string): Promise<number> {
  const r = await rack.run(ns, ['cat', '/proc/net/snmp'], { timeoutMs: 10_000 });
  return parseSnmpUdp(r.stdout).RcvbufErrors ?? 0;
}

// ---------------------------------------------------------------- exit hooks

const liveRacks = new Set<RackImpl>();
let hooksInstalled = false;

function onExit(): void {
  for (const rack of liveRacks) rack.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  onExit();
  if (heldLock) {
    heldLock.stdin?.end();
    heldLock = undefined;
  }
  // We were the reason the default action (exit) did not happen; restore it unless
  // someone else (a test runner) handles the signal too.
  process.removeListener(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// ---------------------------------------------------------------- rack

let rackSeq = 0;

function newTag(): string {
  const seq = (rackSeq++ % 36).toString(36);
  return `${process.pid.toString(36)}${seq}`;
}

class RackImpl implements Rack {
  readonly tag: string;
  readonly bridge: string;
  readonly senderNs: string;
  readonly receiverNs: string[];
  readonly senderAddr = SENDER_ADDR;
  readonly receiverAddrs: string[];
  readonly mtu: number;
  readonly lossPermille: number;
  readonly burst: boolean;
  readonly burstPackets: number;
  readonly rate: string | undefined;
  readonly rateBurstBytes: number;
  readonly snooping: boolean;

  // What actually exists, in creation order; teardown touches only these.
  private readonly createdIfs: string[] = [];
  private readonly createdNs: string[] = [];
  private createdBridge = false;
  /** The loss table's name (family bridge, root namespace), and whether we asked nft for it. */
  private readonly lossTable: string;
  private createdLossTable = false;
  // UNBOUNDED: one entry per exec() call, removed when the child exits.
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;
  private destroying: Promise<void> | undefined;

  constructor(opts: Required<Omit<RackOptions, 'rate'>> & { rate: string | undefined }) {
    this.rateBurstBytes = opts.rateBurstBytes;
    this.snooping = opts.snooping;
    this.tag = newTag();
    this.bridge = `rcbr${this.tag}`;
    this.lossTable = `rcloss${this.tag}`;
    this.senderNs = `rcs${this.tag}`;
    this.receiverNs = [];
    this.receiverAddrs = [];
    for (let i = 1; i <= opts.receivers; i++) {
      this.receiverNs.push(`rcr${this.tag}x${i}`);
      this.receiverAddrs.push(`198.18.0.${RECEIVER_ADDR_BASE + i}`);
    }
    this.mtu = opts.mtu;
    this.lossPermille = opts.lossPermille;
    this.burst = opts.burst;
    this.burstPackets = opts.burstPackets;
    this.rate = opts.rate;
  }

  private hostIf(i: number): string {
    return i === 0 ? `rcv${this.tag}s` : `rcv${this.tag}r${i}`;
  }

  private saveState(): void {
    writeState({
      pid: process.pid,
      tag: this.tag,
      createdAt: new Date().toISOString(),
      bridge: this.bridge,
      hostIfs: [this.hostIf(0), ...this.receiverNs.map((_, i) => this.hostIf(i + 1))],
      namespaces: [this.senderNs, ...this.receiverNs],
      ...(this.lossPermille > 0 ? { lossTable: this.lossTable } : {}),
    });
  }

  async build(): Promise<void> {
    // Record the plan before creating anything, so a SIGKILL half way is cleanable.
    this.saveState();
    await sh(['ip', 'link', 'add', 'name', this.bridge, 'type', 'bridge', 'mcast_snooping', this.snooping ? '1' : '0']);
    this.createdBridge = true;
    if (this.snooping) {
      // Intervals in centiseconds. The querier makes the snooping count: without one, a
      // Linux bridge floods every group.
      const cs = (s: number): string => String(Math.round(s * 100));
      await sh([
        ...['ip', 'link', 'set', this.bridge, 'type', 'bridge'],
        ...['mcast_query_interval', cs(SNOOPING_QUERY_INTERVAL_S), 'mcast_startup_query_interval', cs(SNOOPING_QUERY_INTERVAL_S)],
        ...['mcast_query_response_interval', cs(SNOOPING_SETTLE_S)],
      ]);
      // Apart, and after: turning the querier on starts the wait before the bridge trusts its
      // snooping, one query response interval as it stands then.
      await sh(['ip', 'link', 'set', this.bridge, 'type', 'bridge', 'mcast_querier', '1']);
    }
    await sh(['ip', 'link', 'set', this.bridge, 'up']);
    await this.addNode(this.senderNs, this.hostIf(0), this.senderAddr);
    await sh(['ip', '-n', this.senderNs, 'link', 'set', 'eth0', 'gso_max_segs', '1']);
    if (this.rate !== undefined) {
      await sh([
        'ip',
        'netns',
        'exec',
        this.senderNs,
        'tc',
        'qdisc',
        'add',
        'dev',
        'eth0',
        'root',
        'tbf',
        'rate',
        this.rate,
        'burst',
        String(this.rateBurstBytes),
        'latency',
        '20ms',
      ]);
    }
    for (let i = 0; i < this.receiverNs.length; i++) await this.addNode(this.receiverNs[i]!, this.hostIf(i + 1), this.receiverAddrs[i]!);
    if (this.lossPermille > 0) {
      const rules = this.receiverNs.map((_, i) => `    oifname "${this.hostIf(i + 1)}" ${this.lossRule()} comment "r${i + 1}"`);
      this.createdLossTable = true;
      await sh(
        ['nft', '-f', '-'],
        [`table bridge ${this.lossTable} {`, '  chain loss { type filter hook forward priority -300; policy accept;', ...rules, '  }', '}', ''].join('\n'),
      );
    }
  }

  /** One port's rule (without its port): `lossPermille` > 0. */
  private lossRule(): string {
    const n = this.lossPermille;
    if (n >= 1000) return 'meta l4proto udp counter drop';
    if (!this.burst) return `meta l4proto udp numgen random mod 1000 < ${n} counter drop`;
    const runLen = this.burstPackets;
    const period = Math.max(runLen + 1, Math.round((runLen * 1000) / n));
    const phase = Math.floor(Math.random() * (period - runLen + 1));
    const last = phase + runLen - 1;
    const match = runLen === 1 ? `${phase}` : `${phase}-${last}`;
    return `meta l4proto udp numgen inc mod ${period} ${match} counter drop`;
  }

  private async addNode(ns: string, hostIf: string, addr: string): Promise<void> {
    await sh(['ip', 'netns', 'add', ns]);
    this.createdNs.push(ns);
    // The peer is born inside the namespace as eth0: no rename, no name clash.
    await sh(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    this.createdIfs.push(hostIf);
    await sh(['ip', 'link', 'set', hostIf, 'master', this.bridge, 'mtu', String(this.mtu), 'up']);
    await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'mtu', String(this.mtu)]);
    await sh(['ip', '-n', ns, 'addr', 'add', `${addr}/${PREFIX_LEN}`, 'brd', '+', 'dev', 'eth0']);
    await sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    // GRO, as a physical NIC's driver has it (veth has it off unless asked).
    await sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', 'eth0', 'gro', 'on']);
    await sh(['ip', '-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
  }

  async droppedPackets(): Promise<number[]> {
    if (this.lossPermille <= 0) return this.receiverNs.map(() => 0);
    const argv = ['nft', 'list', 'table', 'bridge', this.lossTable];
    const text = await sh(argv);
    return this.receiverNs.map((_, i) => {
      const m = new RegExp(`counter packets (\\d+) bytes \\d+ drop comment "r${i + 1}"`).exec(text);
      if (m === null) throw new LabCommandError(argv, `no counter for receiver ${i + 1} in:\n${text}`);
      return Number(m[1]);
    });
  }

  private checkNs(ns: string): void {
    if (this.destroyed) throw new Error(`lab: rack ${this.tag} is destroyed`);
    if (ns !== this.senderNs && !this.receiverNs.includes(ns)) {
      throw new RangeError(`lab: ${ns} is not a namespace of rack ${this.tag}`);
    }
  }

  exec(ns: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    this.checkNs(ns);
    if (argv.length === 0) throw new RangeError('lab: exec needs a command');
    const child = spawn(tool('ip'), ['netns', 'exec', ns, ...argv], { ...opts, env: opts.env ?? labEnv() });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  run(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const { timeoutMs, input, ...spawnOpts } = opts;
    const started = performance.now();
    const child = this.exec(ns, argv, { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      let hardKillTimer: NodeJS.Timeout | undefined;
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      if (timeoutMs !== undefined) {
        killTimer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGTERM');
          hardKillTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        }, timeoutMs);
      }
      const finish = (code: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
        clearTimeout(killTimer);
        clearTimeout(hardKillTimer);
        resolve({ code, signal, stdout, stderr: stderr + extra, wallMs: performance.now() - started, timedOut });
      };
      child.once('error', (e) => finish(null, null, `\nspawn error: ${e.message}`));
      child.once('close', (code, signal) => finish(code, signal));
      child.stdin?.on('error', () => undefined); // the child may exit without reading
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  }

  destroy(): Promise<void> {
    if (this.destroying === undefined) this.destroying = this.destroyAsync();
    return this.destroying;
  }

  private async destroyAsync(): Promise<void> {
    this.destroyed = true;
    const running = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    if (running.length > 0) {
      await Promise.all(
        running.map(
          (c) =>
            new Promise<void>((resolve) => {
              const hard = setTimeout(() => c.kill('SIGKILL'), KILL_GRACE_MS);
              const giveUp = setTimeout(resolve, KILL_GRACE_MS * 3);
              c.once('exit', () => {
                clearTimeout(hard);
                clearTimeout(giveUp);
                resolve();
              });
              c.kill('SIGTERM');
            }),
        ),
      );
    }
    this.children.clear();
    if (this.createdLossTable) {
      this.createdLossTable = false;
      await sh(['nft', 'delete', 'table', 'bridge', this.lossTable]).catch(() => undefined);
    }
    // Deleting one end of a veth deletes both; then the namespaces, then the switch.
    for (const ifname of this.createdIfs.splice(0)) await sh(['ip', 'link', 'del', ifname]).catch(() => undefined);
    for (const ns of this.createdNs.splice(0)) await sh(['ip', 'netns', 'del', ns]).catch(() => undefined);
    if (this.createdBridge) {
      this.createdBridge = false;
      await sh(['ip', 'link', 'del', this.bridge]).catch(() => undefined);
    }
    removeState(this.tag);
    liveRacks.delete(this);
  }

  /** For the 'exit' and signal handlers: no awaiting there. */
  destroySync(): void {
    this.destroyed = true;
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    this.children.clear();
    teardownSync(
      this.createdIfs.splice(0),
      this.createdNs.splice(0),
      this.createdBridge ? this.bridge : undefined,
      this.createdLossTable ? this.lossTable : undefined,
    );
    this.createdBridge = false;
    this.createdLossTable = false;
    removeState(this.tag);
    liveRacks.delete(this);
  }
}

/** Builds a rack. On any failure, whatever was created is removed before the error is thrown. */
export async function createRack(opts: RackOptions): Promise<Rack> {
  const reason = labSkipReason();
  if (reason !== undefined) throw new Error(`lab: cannot build a rack: ${reason}`);
  const receivers = opts.receivers;
  if (!Number.isInteger(receivers) || receivers < 1 || receivers > MAX_RECEIVERS) {
    throw new RangeError(`lab: receivers must be an integer in 1..${MAX_RECEIVERS}, got ${receivers}`);
  }
  const lossPermille = opts.lossPermille ?? 0;
  if (!Number.isInteger(lossPermille) || lossPermille < 0 || lossPermille > 1000) {
    throw new RangeError(`lab: lossPermille must be an integer in 0..1000, got ${lossPermille}`);
  }
  const burstPackets = opts.burstPackets ?? DEFAULT_BURST_PACKETS;
  if (!Number.isInteger(burstPackets) || burstPackets < 1 || burstPackets > 1000) {
    throw new RangeError(`lab: burstPackets must be an integer in 1..1000, got ${burstPackets}`);
  }
  const mtu = opts.mtu ?? DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    throw new RangeError(`lab: mtu must be an integer in 576..65535, got ${mtu}`);
  }
  if (opts.rate !== undefined && !/^\d+(\.\d+)?[kmgt]?(bit|bps)?$/i.test(opts.rate)) {
    throw new RangeError(`lab: rate must look like 1gbit or 600mbit, got ${opts.rate}`);
  }
  cleanupStaleRacks();
  const rateBurstBytes = opts.rateBurstBytes ?? DEFAULT_RATE_BURST_BYTES;
  if (!Number.isInteger(rateBurstBytes) || rateBurstBytes < mtu + 14 || rateBurstBytes > 1 << 24) {
    throw new RangeError(`lab: rateBurstBytes must be an integer from one frame (${mtu + 14}) to 16 MiB, got ${rateBurstBytes}`);
  }
  const rack = new RackImpl({
    receivers,
    lossPermille,
    burst: opts.burst ?? false,
    burstPackets,
    mtu,
    rate: opts.rate,
    rateBurstBytes,
    snooping: opts.snooping ?? false,
  });
  installHooks();
  liveRacks.add(rack);
  try {
    await rack.build();
  } catch (e) {
    await rack.destroy();
    throw e;
  }
  return rack;
}

// ---------------------------------------------------------------- self-check

export interface PingResult {
  sent: number;
  /** Datagrams each receiver got, in receiverNs order. */
  received: number[];
}

// Receiver side of multicastPing: join the group on its own address, count
// datagrams until `quietMs` pass after the sender's "end" marker or the deadline.
const PING_RECEIVER = String.raw`
const dgram = require('node:dgram');
const [group, port, ifaddr, deadlineMs] = process.argv.slice(1);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: 4 << 20 });
let n = 0;
const done = () => { process.stdout.write(JSON.stringify({ received: n }) + '\n'); process.exit(0); };
s.on('message', (m) => { if (m.length === 3 && m.toString() === 'end') { setTimeout(done, 200); } else { n++; } });
s.bind(Number(port), group, () => {
  s.addMembership(group, ifaddr);
  process.stdout.write('ready\n');
});
setTimeout(done, Number(deadlineMs));
`;

// Sender side: `count` datagrams of `size` bytes to the group from ifaddr, paced in
// small bursts so no queue overflows, then a few "end" markers.
const PING_SENDER = `
const dgram = require('node:dgram');
const [group, port, ifaddr, count, size] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.bind(0, ifaddr, async () => {
  s.setMulticastInterface(ifaddr);
  s.setMulticastTTL(1);
  s.setMulticastLoopback(false);
  const payload = Buffer.alloc(Number(size), 0x5a);
  const send = (b) => new Promise((res, rej) => s.send(b, Number(port), group, (e) => (e ? rej(e) : res())));
  for (let i = 0; i < Number(count); i++) {
    await send(payload);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
  }
  for (let i = 0; i < 5; i++) { await send(Buffer.from('end')); await new Promise((r) => setTimeout(r, 20)); }
  s.close();
});
`;

/**
 * Checks the rack end to end with plain node:dgram: the sender namespace sends
 * `count` datagrams to a 239.x group, every receiver namespace counts what arrives.
 * With loss configured, received/sent should sit near 1 - loss. The end markers are
 * UDP too and may be dropped; receivers then stop at the deadline.
 */
export async function multicastPing(
  rack: Rack,
  opts: { count?: number; size?: number; group?: string; port?: number; timeoutMs?: number } = {},
): Promise<PingResult> {
  const count = opts.count ?? 5000;
  const size = opts.size ?? Math.min(1400, rack.mtu - 28);
  const group = opts.group ?? '239.192.67.99';
  const port = opts.port ?? 9099;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  if (!/^239\.\d+\.\d+\.\d+$/.test(group)) throw new RangeError(`lab: ping group must be in 239.0.0.0/8, got ${group}`);
  const receivers = rack.receiverNs.map((ns, i) => {
    const child = rack.exec(ns, [process.execPath, '-e', PING_RECEIVER, group, String(port), rack.receiverAddrs[i]!, String(timeoutMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`ping receiver in ${ns} exited ${code}: ${err}`)));
    });
    const result = new Promise<number>((resolve, reject) => {
      child.once('close', () => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line === undefined) reject(new Error(`ping receiver in ${ns} printed no result: ${err}`));
        else resolve((JSON.parse(line) as { received: number }).received);
      });
    });
    result.catch(() => undefined);
    return { ready, result };
  });
  await Promise.all(receivers.map((r) => r.ready));
  const sender = await rack.run(rack.senderNs, [process.execPath, '-e', PING_SENDER, group, String(port), rack.senderAddr, String(count), String(size)], {
    timeoutMs,
  });
  if (sender.code !== 0) throw new Error(`ping sender exited ${sender.code}: ${sender.stderr}`);
  const received = await Promise.all(receivers.map((r) => r.result));
  return { sent: count, received };
}

// ---------------------------------------------------------------- run helpers

/** Writes `bytes` of crypto-random data to path (incompressible, so no tool can cheat). */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const chunkBytes = 4 << 20;
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += chunkBytes) {
      await fh.write(randomBytes(Math.min(chunkBytes, bytes - done)));
    }
  } finally {
    await fh.close();
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The JSON object a CLI printed with --json: the last line that parses as an
 * object, or the whole output if it is one (pretty-printed). Undefined otherwise;
 * never throws.
 */
export function parseLastJson(text: string): Record<string, unknown> | undefined {
  const asObject = (t: string): Record<string, unknown> | undefined => {
    try {
      const v: unknown = JSON.parse(t);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const lines = text.split('\n').map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i]!.startsWith('{')) continue;
    const v = asObject(lines[i]!);
    if (v !== undefined) return v;
  }
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  return start >= 0 && end > start ? asObject(text.slice(start, end + 1)) : undefined;
}

// ---------------------------------------------------------------- link counters

/** A device's counters, as `ip -s -j link` reports them (stats64). */
export interface LinkStats {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
  /** Frames the device dropped (rx: no room in a queue; tx: qdisc/driver drops counted by the device). */
  rxDropped: number;
  txDropped: number;
}

/**
 * Reads one device's counters from `ip -s -j link show dev IF` output; undefined if
 * the text is not that JSON. Never throws.
 */
export function parseLinkStatsJson(text: string): LinkStats | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 1) return undefined;
  const stats = (v[0] as { stats64?: { rx?: Record<string, unknown>; tx?: Record<string, unknown> } } | null)?.stats64;
  const n = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined);
  const out = {
    rxBytes: n(stats?.rx?.bytes),
    rxPackets: n(stats?.rx?.packets),
    txBytes: n(stats?.tx?.bytes),
    txPackets: n(stats?.tx?.packets),
    rxDropped: n(stats?.rx?.dropped) ?? 0,
    txDropped: n(stats?.tx?.dropped) ?? 0,
  };
  if (out.rxBytes === undefined || out.rxPackets === undefined || out.txBytes === undefined || out.txPackets === undefined) {
    return undefined;
  }
  return out as LinkStats;
}

/**
 * Counters of device `ifname` (default eth0, the namespace end of a rack's veth) in
 * namespace ns. The frames a program put on the wire are the sender's tx counters
 * (after tc, so what the token bucket dropped is not counted); what receivers sent
 * back (NAKs, status, IGMP, ARP) are their tx counters.
 */
export function readLinkStats(ns: string, ifname = 'eth0'): Promise<LinkStats> {
  const argv = ['ip', '-n', ns, '-s', '-j', 'link', 'show', 'dev', ifname];
  return new Promise((resolve, reject) => {
    execFile(tool('ip'), argv.slice(1), { timeout: 10_000 }, (error, stdout, stderr) => {
      const stats = error ? undefined : parseLinkStatsJson(String(stdout));
      if (stats === undefined) reject(new LabCommandError(argv, String(stderr) || error?.message || 'unreadable output'));
      else resolve(stats);
    });
  });
}
