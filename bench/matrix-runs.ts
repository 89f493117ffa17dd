// One run of the bench matrix: one tool configuration on one rack, measured the same
// way for every tool (seconds, CPU from GNU time, the sender's device counters, every
// copy's SHA-256, a progress watchdog), and the order the configurations run in.

import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { meanStages, stagesPerGB } from './cpu-breakdown.js';
import { parseLastJson, type Rack, readLinkStats, sha256File } from './lab.js';
import { type BenchConfig, runTimeoutMs } from './matrix-args.js';
import type { Image } from './matrix-images.js';
import { describePoint, fmt, type PointKey, type RunRecord } from './matrix-summary.js';
import {
  type ConfigId,
  fecOfConfig,
  type MeasuredProcess,
  type MeasuredResult,
  parseUdpSenderStderr,
  parseUftpStatus,
  planRun,
  startMeasured,
  TOOL_CONFIGS,
  type ToolName,
  uftpClientId,
  uftpCopiedTargets,
} from './peers.js';

const MB = 1e6;
const GB = 1e9;
const RECEIVER_HEAD_START_MS = 1_000;
/** How long receivers that exit by themselves may take after the sender is done. */
const RECEIVER_EXIT_GRACE_MS = 10_000;
/** How long to wait for a daemon's copy to reach full size before stopping it. */
const DAEMON_SETTLE_MS = 3_000;
/** Progress watchdog: a sender that puts less than this on the wire in --stall seconds is stopped. */
const STALL_BYTES = 1e6;
const STALL_POLL_MS = 1_000;

export interface RunEnv {
  root: string;
  cfg: BenchConfig;
  workRoot: string;
  /** Where a failed run's logs go (outside workRoot, which is removed at the end). */
  logsRoot: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuOf(r: MeasuredResult | undefined): number | null {
  return r?.usage === undefined ? null : r.usage.userSeconds + r.usage.systemSeconds;
}

function exitOf(r: MeasuredResult): string {
  if (r.timedOut) return 'timed out';
  if (r.usage?.terminatedBySignal !== undefined) return `killed by signal ${r.usage.terminatedBySignal}`;
  if (r.signal !== null) return `killed by ${r.signal}`;
  return `exit ${r.code}`;
}

function tail(text: string, chars = 2000): string {
  const t = text
    .replace(/\r/g, '\n')
    .replace(/\n{2,}/g, '\n')
    .trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

async function waitForSize(paths: readonly string[], bytes: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const sizes = paths.map((p) => {
      try {
        return statSync(p).size;
      } catch {
        return -1;
      }
    });
    if (sizes.every((s) => s === bytes)) return;
    await sleep(50);
  }
}

/**
 * Watches the sender's device while the sender runs: if it transmits less than
 * STALL_BYTES in stallMs (a transfer that hangs, e.g. a handshake lost under loss,
 * still sends hellos or reqacks, but not a megabyte), the sender is stopped.
 * Returns true if it stopped it. The same rule for every tool.
 */
async function watchProgress(ns: string, startTxBytes: number, proc: MeasuredProcess, stallMs: number): Promise<boolean> {
  let mark = startTxBytes;
  let markAt = performance.now();
  while (proc.running()) {
    const ended = await Promise.race([proc.done.then(() => true), sleep(STALL_POLL_MS).then(() => false)]);
    if (ended) return false;
    let tx: number;
    try {
      tx = (await readLinkStats(ns)).txBytes;
    } catch {
      continue;
    }
    const now = performance.now();
    if (tx - mark >= STALL_BYTES) {
      mark = tx;
      markAt = now;
    } else if (now - markAt > stallMs) {
      await proc.stop();
      return true;
    }
  }
  return false;
}

export async function runOne(env: RunEnv, rack: Rack, key: PointKey, config: ConfigId, rep: number, image: Image): Promise<RunRecord> {
  const workDir = await mkdtemp(join(env.workRoot, `${config}-n${key.receivers}-l${key.lossPermille}-r${rep}-`));
  const plan = planRun(config, {
    nodePath: process.execPath,
    root: env.root,
    inputPath: image.path,
    outputSuffix: image.suffix,
    workDir,
    senderAddr: rack.senderAddr,
    receiverAddrs: rack.receiverAddrs,
    lossPermille: key.lossPermille,
    rackcastFec: env.cfg.rackcastFec,
    udpcastFec: env.cfg.udpcastFec,
  });
  for (const d of plan.dirs) await mkdir(d, { recursive: true });
  const timeoutMs = runTimeoutMs(env.cfg, image.bytes);
  const problems: string[] = [];

  const senderBefore = await readLinkStats(rack.senderNs);
  const receiversBefore = await Promise.all(rack.receiverNs.map((ns) => readLinkStats(ns)));
  const droppedBefore = await rack.droppedPackets();

  const receivers = plan.receivers.map((argv, i) =>
    startMeasured(rack, rack.receiverNs[i]!, argv, {
      timeFile: join(workDir, `time-receiver-${i + 1}.txt`),
      timeoutMs: timeoutMs + RECEIVER_HEAD_START_MS + RECEIVER_EXIT_GRACE_MS,
      cwd: workDir,
    }),
  );
  await sleep(RECEIVER_HEAD_START_MS);
  let sender: MeasuredResult | undefined;
  const t0 = performance.now();
  const early = receivers.filter((r) => !r.running()).length;
  if (early > 0) {
    problems.push(`${early} receiver(s) exited before the sender started`);
  } else {
    const proc = startMeasured(rack, rack.senderNs, plan.sender, {
      timeFile: join(workDir, 'time-sender.txt'),
      timeoutMs,
      cwd: workDir,
    });
    const stalled = await watchProgress(rack.senderNs, senderBefore.txBytes, proc, env.cfg.stallS * 1000);
    sender = await proc.done;
    if (stalled) problems.push(`stalled: the sender put less than ${STALL_BYTES / MB} MB on the wire in ${env.cfg.stallS} s`);
  }
  if (plan.receiversAreDaemons) await waitForSize(plan.outputs, image.bytes, DAEMON_SETTLE_MS);
  const rcv = await Promise.all(
    receivers.map(async (r) => {
      if (plan.receiversAreDaemons || sender === undefined) return r.stop();
      const res = await Promise.race([r.done, sleep(RECEIVER_EXIT_GRACE_MS).then(() => undefined)]);
      return res ?? r.stop();
    }),
  );

  const senderAfter = await readLinkStats(rack.senderNs);
  const receiversAfter = await Promise.all(rack.receiverNs.map((ns) => readLinkStats(ns)));
  const droppedAfter = await rack.droppedPackets();

  // Did it work? Exit codes, the tool's own account, then every copy's SHA-256.
  const detail: Record<string, unknown> = {};
  if (sender !== undefined) {
    const senderExitOk = sender.usage !== undefined ? sender.usage.exitStatus === 0 && sender.usage.terminatedBySignal === undefined : sender.code === 0;
    if (!senderExitOk || sender.timedOut) problems.push(`sender ${exitOf(sender)}`);
  }
  if (!plan.receiversAreDaemons) {
    rcv.forEach((r, i) => {
      if (r.timedOut || r.code !== 0) problems.push(`receiver ${i + 1} ${exitOf(r)}`);
    });
  }
  const tool = TOOL_CONFIGS[config].tool;
  let cpuStages: RunRecord['cpuStages'];
  if (tool === 'rackcast' && sender !== undefined) {
    const json = parseLastJson(sender.stdout);
    const listed = Array.isArray(json?.receivers) ? (json!.receivers as Record<string, unknown>[]) : [];
    const verified = listed.filter((r) => r.state === 'verified').length;
    if (verified !== key.receivers) problems.push(`rackcast sender lists ${verified}/${key.receivers} receivers verified`);
    detail.rackcast = { seconds: json?.seconds, stats: json?.stats, cpuUserMs: json?.cpuUserMs, cpuSystemMs: json?.cpuSystemMs };
    cpuStages = {
      sender: stagesPerGB(json, image.bytes),
      receiver: meanStages(rcv.map((r) => stagesPerGB(parseLastJson(r.stdout), image.bytes))),
    };
  } else if (tool === 'udpcast' && sender !== undefined) {
    const report = parseUdpSenderStderr(sender.stderr);
    if (!report.complete) problems.push('udp-sender did not print "Transfer complete."');
    detail.udpcast = { rexmits: report.rexmits, connections: report.connections, bytes: report.bytes };
  } else if (tool === 'uftp' && sender !== undefined && plan.statusFile !== undefined) {
    let text = '';
    try {
      text = readFileSync(plan.statusFile, 'utf8');
    } catch {
      // no status file: uftp failed early; the exit code says so
    }
    const status = parseUftpStatus(text);
    const copied = uftpCopiedTargets(status);
    const missing = rack.receiverNs.map((_, i) => uftpClientId(i)).filter((id) => !copied.has(id));
    if (missing.length > 0) problems.push(`uftp status: no copy for ${missing.join(', ')}`);
    detail.uftp = { stats: status.stats };
  }
  let verifiedCopies = 0;
  for (let i = 0; i < plan.outputs.length; i++) {
    const out = plan.outputs[i]!;
    let size = -1;
    try {
      size = statSync(out).size;
    } catch {
      // missing
    }
    const good = size === image.bytes && (await sha256File(out)) === image.sha256;
    if (good) verifiedCopies++;
    else problems.push(`copy ${i + 1} ${size < 0 ? 'missing' : size !== image.bytes ? `has ${size} of ${image.bytes} bytes` : 'differs (SHA-256)'}`);
  }

  const ok = problems.length === 0 && verifiedCopies === key.receivers;
  const seconds = sender === undefined ? null : (sender.endedAt - t0) / 1000;
  const selfExiting = plan.receiversAreDaemons ? [] : rcv;
  const allExited = sender === undefined ? null : (Math.max(sender.endedAt, ...selfExiting.map((r) => r.endedAt)) - t0) / 1000;
  const senderCpu = cpuOf(sender);
  const receiverCpu = rcv.map(cpuOf);
  const gb = image.bytes / GB;
  const rcvMean = receiverCpu.some((x) => x === null) ? null : (receiverCpu as number[]).reduce((a, b) => a + b, 0) / receiverCpu.length;
  const wireBytes = senderAfter.txBytes - senderBefore.txBytes;
  const record: RunRecord = {
    key,
    config,
    rep,
    fec: plan.fec ?? null,
    ok,
    problems,
    seconds,
    allExitedSeconds: allExited,
    mbPerSecondPerReceiver: ok && seconds !== null && seconds > 0 ? image.bytes / MB / seconds : 0,
    senderCpuSeconds: senderCpu,
    receiverCpuSeconds: receiverCpu,
    senderCpuSecondsPerGB: senderCpu === null ? null : senderCpu / gb,
    receiverCpuSecondsPerGB: rcvMean === null ? null : rcvMean / gb,
    senderMaxRssKiB: sender?.usage?.maxRssKiB ?? null,
    wireBytes,
    wireBytesPerImageByte: wireBytes / image.bytes,
    feedbackPackets: receiversAfter.reduce((a, s, i) => a + s.txPackets - receiversBefore[i]!.txPackets, 0),
    feedbackBytes: receiversAfter.reduce((a, s, i) => a + s.txBytes - receiversBefore[i]!.txBytes, 0),
    nftDropped: droppedAfter.map((n, i) => n - droppedBefore[i]!),
    verifiedCopies,
    detail,
    ...(cpuStages === undefined ? {} : { cpuStages }),
  };

  // The copies are big; the logs are what a failed run needs.
  for (const out of plan.outputs) await rm(out, { force: true });
  if (ok && !env.cfg.keep) {
    await rm(workDir, { recursive: true, force: true });
  } else {
    const logs = [
      `# ${describePoint(key)} ${config} rep ${rep}`,
      `## sender: ${plan.sender.join(' ')}`,
      sender === undefined ? '(not started)' : `${exitOf(sender)}\n${tail(sender.stderr, 20_000)}\n${tail(sender.stdout, 5_000)}`,
      ...rcv.map((r, i) => `## receiver ${i + 1}: ${plan.receivers[i]!.join(' ')}\n${exitOf(r)}\n${tail(r.stderr, 20_000)}\n${tail(r.stdout, 5_000)}`),
    ];
    const logsDir = env.cfg.keep ? workDir : join(env.logsRoot, basename(workDir));
    await mkdir(logsDir, { recursive: true });
    await writeFile(join(logsDir, 'logs.txt'), `${logs.join('\n\n')}\n`);
    if (logsDir !== workDir) await rm(workDir, { recursive: true, force: true });
    record.logsDir = logsDir;
  }
  return record;
}

export function runLine(r: RunRecord): string {
  const label = `${TOOL_CONFIGS[r.config].label}${r.fec === null ? '' : ` ${r.fec}`}`;
  return (
    `${describePoint(r.key)}  ${label.padEnd(24)} rep ${r.rep}  seconds=${fmt(r.seconds, 2)}  MB/s per receiver=${fmt(r.mbPerSecondPerReceiver, 1)}` +
    `  CPU s/GB sender=${fmt(r.senderCpuSecondsPerGB, 2)} receivers=${fmt(r.receiverCpuSecondsPerGB, 2)}` +
    `  wire B/B=${fmt(r.wireBytesPerImageByte, 3)}  feedback pkts=${r.feedbackPackets ?? '—'}  ${r.ok ? 'ok' : `BAD (${r.problems.join('; ')})`}`
  );
}

/** The order of configs in rep `rep` (1-based): CONFIG order, rotated by rep - 1. */
export function runOrder(configs: readonly ConfigId[], rep: number): ConfigId[] {
  // Interleave tools (rackcast, udpcast, uftp, rackcast --fec, …) rather than CONFIG_IDS order.
  const byTool = new Map<ToolName, ConfigId[]>();
  for (const c of configs) {
    const t = TOOL_CONFIGS[c].tool;
    byTool.set(t, [...(byTool.get(t) ?? []), c]);
  }
  const interleaved: ConfigId[] = [];
  for (let i = 0; interleaved.length < configs.length; i++) {
    for (const cs of byTool.values()) if (i < cs.length) interleaved.push(cs[i]!);
  }
  const k = (rep - 1) % Math.max(1, interleaved.length);
  return [...interleaved.slice(k), ...interleaved.slice(0, k)];
}

/**
 * Configs whose command at this loss is the same as another selected config's
 * (rackcast --fec where the table says none): they are not run again; their rows
 * copy the other's. Returns config → the config it equals.
 */
export function aliasesAt(configs: readonly ConfigId[], cfg: Pick<BenchConfig, 'rackcastFec' | 'udpcastFec'>, lossPermille: number): Map<ConfigId, ConfigId> {
  const out = new Map<ConfigId, ConfigId>();
  const ctx = { lossPermille, rackcastFec: cfg.rackcastFec, udpcastFec: cfg.udpcastFec };
  for (const [fecCfg, plain] of [
    ['rackcast-fec', 'rackcast'],
    ['udpcast-fec', 'udpcast'],
  ] as const) {
    if (configs.includes(fecCfg) && configs.includes(plain) && fecOfConfig(fecCfg, ctx) === undefined) out.set(fecCfg, plain);
  }
  return out;
}
