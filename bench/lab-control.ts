// Control datagrams on the sender's link of a lab rack (bench/lab.ts), counted exactly, by
// message type and direction, and one whole session of the real CLIs over that rack.
//
// Where they are counted: an nftables table of family bridge in the root namespace, on the
// rack's bridge port of the sender (its host-side veth):
//   from the sender  chain prerouting, iifname = the sender's port: every frame the sender
//                    put on the wire, once, however many receivers it is flooded to
//   to the sender    chain forward, oifname = the sender's port: every frame the bridge
//                    delivered to the sender's link (unicast to it, and multicast the group
//                    floods to every port, NAKs among them)
// Not in the sender's namespace: its eth0 has gso_max_segs 1, so a UDP GSO batch is cut into
// datagrams only after that namespace's hooks, and a REQACK that rides at the end of a DATA
// batch would be counted as part of one DATA. At the bridge every datagram is a frame of its
// own. One rule per message type (the type byte of the common header, protocol/header.ts,
// after the rackcast magic); what matches no rule (ARP, IGMP, anything not rackcast) is
// counted as "other".

import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockBytesForMtu } from '../common/mtu.js';
import { MAGIC, MESSAGE_TYPE_NAMES, MessageType } from '../protocol/header.js';
import { DATA_HEADER_SIZE } from '../protocol/messages/data.js';
import { DEFAULT_SLICE_BLOCKS } from '../sender/args.js';
import { parseLastJson, type Rack, type RunResult, rcvbufErrors, sha256File } from './lab.js';

/**
 * The sender's port gives out two frames at a time: the bridge floods every frame to each
 * receiver's port through one CPU's backlog, and a burst of 64 KiB (the sender's GSO batch)
 * times 32 ports overflows it (net.core.netdev_max_backlog, 1000): a loss of about a fifth
 * at 32 receivers that no switch adds, and that 4 receivers do not see.
 */
export const LINK_BURST_BYTES = 2 * (1500 + 14);

/** The CLI's default --slice-blocks. */
export const SLICE_BLOCKS = DEFAULT_SLICE_BLOCKS;

/** Slices of an image at the CLIs' defaults (MTU 1500, SLICE_BLOCKS blocks a slice). */
export function slicesOf(imageBytes: number): number {
  return Math.ceil(imageBytes / (SLICE_BLOCKS * blockBytesForMtu(1500, DATA_HEADER_SIZE, 0)));
}

/** The rack's bridge port of the sender: lab.ts names host-side veths rcv<tag>s / rcv<tag>r<i>. */
export function senderPort(rack: Rack): string {
  return `rcv${rack.tag}s`;
}

export type Direction = 'fromSender' | 'toSender';

/** Frames by message-type name ('DATA', 'STATUS', …, and 'other'), per direction. */
export type FrameCounts = Record<Direction, Record<string, number>>;

// Bit offsets from the start of the UDP header (nft @th): 8 bytes of UDP header, then the
// rackcast header (protocol/header.ts): magic at byte 0, type at byte 3.
const TH_MAGIC_BITS = 64;
const TH_TYPE_BITS = 88;

const TYPES = Object.keys(MESSAGE_TYPE_NAMES).map(Number);

/** Per-session, once per receiver or per session: not part of what a slice costs. */
export const HANDSHAKE_TYPES: readonly string[] = ['HELLO', 'JOIN', 'ACCEPT', 'START', 'REPORT', 'REPORT_ACK', 'LEAVE', 'CLONE_REPORT', 'CLONE_REPORT_ACK'];

function nft(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`nft ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
      else resolve(String(stdout));
    });
    child.stdin?.on('error', () => undefined); // nft may exit without reading it
    child.stdin?.end(input);
  });
}

/** Ruleset text of the counting table; exported for its unit test. */
export function counterRuleset(table: string, port: string): string {
  const rules = (dir: Direction, match: string): string[] => [
    ...TYPES.map(
      (t) =>
        `    ${match} udp length >= 12 @th,${TH_MAGIC_BITS},16 ${MAGIC} @th,${TH_TYPE_BITS},8 ${t} counter accept comment "${dir}:${MESSAGE_TYPE_NAMES[t]}"`,
    ),
    `    ${match} counter accept comment "${dir}:other"`,
  ];
  return [
    `table bridge ${table} {`,
    '  chain fromsender {',
    '    type filter hook prerouting priority 0; policy accept;',
    ...rules('fromSender', `iifname "${port}"`),
    '  }',
    '  chain tosender {',
    '    type filter hook forward priority 0; policy accept;',
    ...rules('toSender', `oifname "${port}"`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Reads `nft -j list table` output into counts; undefined if it is not that JSON. Never throws. */
export function parseCounters(json: string): FrameCounts | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  const items = (v as { nftables?: unknown[] } | null)?.nftables;
  if (!Array.isArray(items)) return undefined;
  const out: FrameCounts = { fromSender: {}, toSender: {} };
  for (const item of items) {
    const rule = (item as { rule?: { comment?: unknown; expr?: unknown[] } } | null)?.rule;
    if (rule === undefined || typeof rule.comment !== 'string' || !Array.isArray(rule.expr)) continue;
    const [dir, name] = rule.comment.split(':');
    if ((dir !== 'fromSender' && dir !== 'toSender') || name === undefined) continue;
    for (const e of rule.expr) {
      const c = (e as { counter?: { packets?: unknown } } | null)?.counter;
      if (typeof c?.packets === 'number') out[dir][name] = (out[dir][name] ?? 0) + c.packets;
    }
  }
  return out;
}

const liveTables = new Set<string>();
let exitHook = false;

/** Counts on the sender's port of `rack` until close(); the table goes with the process too. */
export class ControlCounter {
  private constructor(
    readonly table: string,
    private closed = false,
  ) {}

  static async open(rack: Rack): Promise<ControlCounter> {
    const table = `rcctl${rack.tag}`;
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const t of liveTables) spawnSync('nft', ['delete', 'table', 'bridge', t], { stdio: 'ignore' });
      });
    }
    liveTables.add(table);
    try {
      await nft(['-f', '-'], counterRuleset(table, senderPort(rack)));
    } catch (e) {
      liveTables.delete(table);
      throw e;
    }
    return new ControlCounter(table);
  }

  async read(): Promise<FrameCounts> {
    const text = await nft(['-j', 'list', 'table', 'bridge', this.table]);
    const counts = parseCounters(text);
    if (counts === undefined) throw new Error(`nft list table bridge ${this.table}: unreadable output`);
    return counts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    liveTables.delete(this.table);
    await nft(['delete', 'table', 'bridge', this.table]).catch(() => undefined);
  }
}

export function diffCounts(after: FrameCounts, before: FrameCounts): FrameCounts {
  const d = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
  return { fromSender: d(after.fromSender, before.fromSender), toSender: d(after.toSender, before.toSender) };
}

export interface ControlSummary {
  /** Every rackcast datagram that is not DATA, both directions. */
  control: number;
  /** control less HANDSHAKE_TYPES: what the slices cost (NAK, STATUS, REQACK, END, DROP, …). */
  sliceControl: number;
  data: number;
  other: number;
}

export function summarize(c: FrameCounts): ControlSummary {
  let control = 0;
  let sliceControl = 0;
  let data = 0;
  let other = 0;
  for (const dir of ['fromSender', 'toSender'] as const) {
    for (const [name, n] of Object.entries(c[dir])) {
      if (name === 'other') other += n;
      else if (name === MESSAGE_TYPE_NAMES[MessageType.Data]) data += n;
      else {
        control += n;
        if (!HANDSHAKE_TYPES.includes(name)) sliceControl += n;
      }
    }
  }
  return { control, sliceControl, data, other };
}

// ---------------------------------------------------------------- one session

export interface SessionOptions {
  senderCli: string;
  receiverCli: string;
  imagePath: string;
  imageSha: string;
  imageBytes: number;
  /** udp-sender --max-bitrate (e.g. '100m'), or undefined for none. */
  maxBitrate: string | undefined;
  timeoutMs: number;
  /** Keep the work directory (logs) even when the session was ok. */
  keep?: boolean;
}

export interface SessionResult {
  ok: boolean;
  problems: string[];
  /** Wall time from the sender's start to the last process's exit. */
  seconds: number;
  /** The transfer as the sender reports it (its --json `seconds`), null if it printed none. */
  senderSeconds: number | null;
  /** The sender's counters from its --json `stats` (naksReceived, statusReceived, …); {} if it printed none. */
  senderStats: Record<string, number>;
  /** UDP datagrams the lab's loss rule dropped, summed over the receivers. */
  nftDropped: number;
  /** UDP datagrams the receivers' kernels dropped for a full socket buffer (Udp RcvbufErrors), summed. */
  rcvbufErrors: number;
  receivers: number;
  verifiedBySender: number;
  verifiedOutputs: number;
  counts: FrameCounts;
  summary: ControlSummary;
  workDir: string | undefined;
}

function ipLink(ns: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-n', ns, 'link', 'set', 'eth0', 'gso_max_segs', '1'], { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`ip -n ${ns} link set eth0 gso_max_segs 1: ${String(stderr).trim() || error.message}`));
      else resolve();
    });
  });
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Waits until every file holds `marker` (a receiver's log line), or throws after timeoutMs. */
async function waitForAll(paths: readonly string[], marker: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const pending = new Set(paths);
  while (pending.size > 0) {
    for (const p of [...pending]) if ((await readFile(p, 'utf8').catch(() => '')).includes(marker)) pending.delete(p);
    if (pending.size === 0) return;
    if (performance.now() > deadline) throw new Error(`lab-control: ${pending.size} receiver(s) never logged ${marker}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tail(text: string, chars = 600): string {
  const t = text.trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

function describe(name: string, r: RunResult): string {
  return `${name}: exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (timed out)' : ''}: ${tail(r.stderr) || tail(r.stdout)}`;
}

/**
 * One session of udp-sender and one udp-receiver per receiver namespace, counting on the
 * sender's port. ok when every process exited 0, every output has the image's SHA-256 and
 * the sender lists every receiver as verified.
 */
export async function runCountedSession(rack: Rack, o: SessionOptions): Promise<SessionResult> {
  const workDir = await mkdtemp(join(tmpdir(), 'rackcast-labctl-'));
  const n = rack.receiverNs.length;
  const outputs = rack.receiverNs.map((_, i) => join(workDir, `out-${i + 1}.bin`));
  const logs = rack.receiverNs.map((_, i) => join(workDir, `receiver-${i + 1}.log`));
  // A receiver batches its feedback like the sender its DATA (UDP GSO: two STATUS, or NAKs
  // for two slices, of one size to one place in one turn); the sender's eth0 cuts batches
  // into datagrams before the wire (lab.ts), and so must the receivers', or the bridge sees
  // one frame where the sender reads two.
  await Promise.all(rack.receiverNs.map((ns) => ipLink(ns)));
  const counter = await ControlCounter.open(rack);
  let counts: FrameCounts;
  let senderRun: RunResult;
  let receiverRuns: RunResult[];
  let started = 0;
  const droppedBefore = sum(await rack.droppedPackets());
  const rcvbufBefore = sum(await Promise.all(rack.receiverNs.map((ns) => rcvbufErrors(rack, ns))));
  try {
    const before = await counter.read();
    const receivers = rack.receiverNs.map((ns, i) =>
      rack.run(ns, [process.execPath, o.receiverCli, '--file', outputs[i]!, '--interface', rack.receiverAddrs[i]!, '--json', '--log', logs[i]!], {
        timeoutMs: o.timeoutMs,
      }),
    );
    // The sender starts once every receiver has its sockets open: many receivers take a
    // while to start on a small machine, and the early ones would otherwise join and wait,
    // sending the STATUS and HEARTBEAT of a session that has not begun.
    await waitForAll(logs, '"socket.open"', o.timeoutMs);
    started = performance.now();
    const sender = rack.run(
      rack.senderNs,
      [
        process.execPath,
        o.senderCli,
        '--file',
        o.imagePath,
        '--nokbd',
        '--min-receivers',
        String(n),
        '--interface',
        rack.senderAddr,
        '--json',
        '--log',
        join(workDir, 'sender.log'),
        ...(o.maxBitrate === undefined ? [] : ['--max-bitrate', o.maxBitrate]),
      ],
      { timeoutMs: o.timeoutMs },
    );
    [senderRun, ...receiverRuns] = await Promise.all([sender, ...receivers]);
    counts = diffCounts(await counter.read(), before);
  } finally {
    await counter.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const nftDropped = sum(await rack.droppedPackets()) - droppedBefore;
  const rcvbuf = sum(await Promise.all(rack.receiverNs.map((ns) => rcvbufErrors(rack, ns)))) - rcvbufBefore;
  const senderJson = parseLastJson(senderRun.stdout);
  const senderSecondsRaw = senderJson?.seconds;
  const senderStats: Record<string, number> = {};
  const rawStats = senderJson?.stats;
  if (rawStats !== null && typeof rawStats === 'object') {
    for (const [k, v] of Object.entries(rawStats)) if (typeof v === 'number') senderStats[k] = v;
  }
  const problems: string[] = [];
  if (senderRun.code !== 0) problems.push(describe('sender', senderRun));
  const listed = senderJson?.receivers;
  const verifiedBySender = Array.isArray(listed) ? listed.filter((r) => (r as { state?: unknown }).state === 'verified').length : 0;
  if (verifiedBySender !== n) problems.push(`the sender lists ${verifiedBySender}/${n} receivers as verified`);
  let verifiedOutputs = 0;
  for (let i = 0; i < n; i++) {
    const r = receiverRuns[i]!;
    if (r.code !== 0) problems.push(describe(`receiver ${i + 1}`, r));
    const out = outputs[i]!;
    const same = existsSync(out) && (await stat(out)).size === o.imageBytes && (await sha256File(out)) === o.imageSha;
    if (same) verifiedOutputs++;
    else problems.push(`receiver ${i + 1}: output ${existsSync(out) ? 'differs from the image' : 'missing'}`);
    await rm(out, { force: true });
  }
  const ok = problems.length === 0;
  if (!ok) {
    const log = await readFile(join(workDir, 'sender.log'), 'utf8').catch(() => '');
    problems.push(`sender log tail: ${tail(log, 1500)}`);
  }
  const keep = !ok || o.keep === true;
  if (!keep) await rm(workDir, { recursive: true, force: true });
  return {
    ok,
    problems,
    seconds,
    senderSeconds: typeof senderSecondsRaw === 'number' ? senderSecondsRaw : null,
    senderStats,
    nftDropped,
    rcvbufErrors: rcvbuf,
    receivers: n,
    verifiedBySender,
    verifiedOutputs,
    counts,
    summary: summarize(counts),
    workDir: keep ? workDir : undefined,
  };
}
