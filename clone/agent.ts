// The clone agent: carries out a validated plan step by step (clone/steps.ts):
//
//   disk → table (compare) → partition (keep or write) → mkfs → mount → receive → fixups →
//   bootloader → finish (unmount, sync, detach)
//
// Each step is logged with its time (clone/log.ts). The first failure stops the run: the
// summary names the step and the one-line reason, and the CLI turns it into
// "rackcast-clone: failed at STEP: ..." and the step's exit code. What the agent mounted or
// attached is undone also after a failure. The disk's boot code is cleared before anything
// is written and the bootloader is installed only after the image verified, so an
// interrupted clone never boots a half-written root.
//
// --dry-run: the disk is resolved and its table compared for real (reading only: sfdisk -d,
// blkid, e2fsck -n on read-only loop devices, and sfdisk on a sparse file of our own), and
// every command that would change something is printed instead of run.

import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oneLine } from '../common/errors.js';
import { BOOT_CODE_BYTES, type BootloaderSummary, installBootloader, writeBootCode } from './bootloader.js';
import { resolveDisk } from './disk.js';
import { Commands } from './exec.js';
import { applyFixups, type FixupsSummary } from './fixups.js';
import { firstDifference, layoutFits, normaliseDump, type PartitionExtent, parseSfdiskJson, sfdiskScript } from './layout.js';
import type { CloneLog } from './log.js';
import { fsckCommand, mkfsCommand, parseBlkid } from './mkfs.js';
import type { NetEnv } from './net-env.js';
import { type PartitionDevice, PartitionDevices } from './partdev.js';
import type { ClonePlan, PartitionPlan } from './plan.js';
import { type ReceiveSummary, receiveImage, receiverArgv } from './receive.js';
import { cloneReportOf, sendCloneReport } from './report.js';
import { DEFAULT_GIVE_UP_MS } from './report-core.js';
import { type Step, StepError } from './steps.js';

export interface AgentOptions {
  readonly plan: ClonePlan;
  readonly env: NetEnv;
  readonly dryRun: boolean;
  readonly log: CloneLog;
  /** Where the target root is mounted (default /run/rackcast/root). */
  readonly rootDir: string;
  /** /sys/block, for disk rules (tests give a made-up one). */
  readonly sysBlock?: string;
  /** JSON logs of the in-process receiver (pino), if wanted. */
  readonly receiverLogFile?: string;
  /** loop: partitions through loop devices by offset even where the kernel has nodes for them. */
  readonly partitionDevices?: 'auto' | 'loop';
  /** How long the clone report is repeated without the sender's ack (default DEFAULT_GIVE_UP_MS). */
  readonly reportGiveUpMs?: number;
}

/** What the node did, for the console, /run/rackcast/result.json and the sender's table (CLONE_REPORT). */
export interface CloneSummary {
  ok: boolean;
  dryRun: boolean;
  failedStep?: Step;
  detail?: string;
  host?: string;
  mac?: string;
  ip?: string;
  disk?: { path: string; bytes: number; why: string };
  table?: 'kept' | 'written' | 'unchanged-raw-disk';
  tableReason?: string;
  partitions: { number: number; label?: string; fs: string; mount?: string; action: 'kept' | 'formatted' | 'raw-image' | 'left-empty'; uuid?: string }[];
  image?: ReceiveSummary;
  fixups?: FixupsSummary;
  bootloader?: BootloaderSummary;
  seconds: number;
  /** The clone report to the sender: confirmed by it, not confirmed in time, or not sent (no socket). */
  reported?: 'acked' | 'unconfirmed' | 'not-sent';
}

const DEFAULT_SIZES_LOG_MIB = (b: number): string => `${(b / (1 << 20)).toFixed(0)} MiB`;

class Run {
  readonly cmd: Commands;
  readonly s: CloneSummary;
  private devs = new Map<number, PartitionDevice>();
  private readonly mounted: string[] = []; // bounded by the plan's partitions
  private readonly uuids = new Map<number, string>();
  private tmp: string | undefined;
  private diskPath = '';
  private extents: PartitionExtent[] = [];
  private step: Step = 'disk';
  /** The udp-receiver arguments the image came with; the clone report goes out the same way. */
  receiverArgv: string[] | undefined;

  constructor(private readonly o: AgentOptions) {
    this.cmd = new Commands(o.log, o.dryRun);
    this.s = { ok: false, dryRun: o.dryRun, partitions: [], seconds: 0, mac: o.env.MAC, ip: o.env.IP };
  }

  private line(msg: string): void {
    this.o.log.line(this.step, msg);
  }

  private enter(step: Step): void {
    this.step = step;
  }

  async run(): Promise<CloneSummary> {
    const { plan } = this.o;
    let devsApi: PartitionDevices | undefined;
    try {
      this.enter('disk');
      const disk = resolveDisk(plan.disk, this.o.sysBlock);
      this.diskPath = disk.path;
      this.s.disk = { path: disk.path, bytes: disk.bytes, why: disk.why };
      this.line(`${disk.path}: ${DEFAULT_SIZES_LOG_MIB(disk.bytes)} (${disk.why})`);
      devsApi = new PartitionDevices(this.cmd, disk.path, this.o.partitionDevices === 'loop');
      if (plan.image.kind !== 'raw-disk') {
        const fits = layoutFits(plan, disk.bytes);
        if (!fits.ok)
          throw new StepError(
            'disk',
            `${disk.path} is ${DEFAULT_SIZES_LOG_MIB(disk.bytes)}, too small for the plan's partitions (they need at least ${DEFAULT_SIZES_LOG_MIB(fits.needBytes)})`,
          );
      }

      let keep = false;
      if (plan.image.kind !== 'raw-disk') {
        this.enter('table');
        keep = await this.compareTable(disk.path, disk.bytes);
        this.enter('partition');
        keep = await this.partition(devsApi, disk.path, keep);
        this.enter('mkfs');
        await this.mkfs();
      } else {
        this.s.table = 'unchanged-raw-disk';
        this.enter('partition');
        this.clearBootCode(disk.path);
      }

      const rootPart = plan.partitions.find((p) => p.mount === '/');
      let rootMounted = false;
      if (plan.image.kind === 'unpack') {
        this.enter('mount');
        await this.mountAll();
        rootMounted = true;
        this.enter('receive');
        this.s.image = await this.receive({ unpack: join(this.o.rootDir, plan.image.into === '/' ? '' : plan.image.into) || this.o.rootDir });
      } else {
        this.enter('receive');
        const target = plan.image.kind === 'raw-disk' ? disk.path : this.devPath(plan.image.partition);
        this.s.image = await this.receive({ file: target });
        if (rootPart !== undefined && rootPart.fs !== 'none') {
          this.enter('mount');
          if (plan.image.kind === 'raw-disk') {
            // The table came with the image: read it, then find the partitions it made.
            await this.cmd.run('mount', ['blockdev', '--rereadpt', disk.path], { allowFail: true });
            this.extents = this.o.dryRun
              ? this.extents
              : parseSfdiskJson((await this.cmd.run('mount', ['sfdisk', '-J', disk.path], { readOnly: true })).stdout).extents;
            if (!this.o.dryRun) this.devs = await devsApi.open('mount', this.extents, { readOnly: false });
          }
          await this.mountAll();
          rootMounted = true;
        }
      }

      this.enter('fixups');
      if (rootMounted) {
        await this.readUuids();
        this.s.fixups = await applyFixups({ plan, root: this.o.rootDir, env: this.o.env, cmd: this.cmd, log: this.o.log, uuids: this.uuids });
        this.s.host = this.s.fixups.hostname;
      } else this.line('no root file system in the plan: no fixups');

      this.enter('bootloader');
      this.s.bootloader = await installBootloader({ plan, root: this.o.rootDir, disk: disk.path, cmd: this.cmd, log: this.o.log, uuids: this.uuids });
      if (plan.bootloader.kind !== 'none') this.line(`${plan.bootloader.kind}: ${this.o.dryRun ? 'would be installed' : 'installed'}`);

      this.enter('finish');
      await this.unmountAll(false);
      await this.cmd.run('finish', ['sync']);
      await devsApi.detachAll('finish');
      this.s.ok = true;
    } catch (e) {
      const se = e instanceof StepError ? e : new StepError(this.step, oneLine(e));
      this.s.failedStep = se.step;
      this.s.detail = se.message;
      await this.unmountAll(true);
      await devsApi?.detachAll(this.step).catch(() => undefined);
    } finally {
      if (this.tmp !== undefined) rmSync(this.tmp, { recursive: true, force: true });
      this.s.seconds = this.o.log.elapsedS;
    }
    return this.s;
  }

  /** Whether the disk's table is the plan's (so kept partitions may stay); refuses a mismatch when wiping is not allowed. */
  private async compareTable(disk: string, bytes: number): Promise<boolean> {
    const { plan } = this.o;
    const script = sfdiskScript(plan, bytes);
    this.line(`layout (sfdisk script): ${script.trim().replaceAll('\n', ' | ')}`);
    this.tmp = mkdtempSync(join(tmpdir(), 'rackcast-clone-'));
    const model = join(this.tmp, 'layout.img');
    // A sparse file of the disk's size: sfdisk aligns and sizes "rest" exactly as on the disk.
    writeFileSync(model, '');
    truncateSync(model, bytes);
    await this.cmd.run('table', ['sfdisk', '-q', '--no-reread', '--no-tell-kernel', model], { readOnly: true, input: script });
    const want = normaliseDump((await this.cmd.run('table', ['sfdisk', '-d', model], { readOnly: true })).stdout);
    this.extents = parseSfdiskJson((await this.cmd.run('table', ['sfdisk', '-J', model], { readOnly: true })).stdout).extents;
    const cur = await this.cmd.run('table', ['sfdisk', '-d', disk], { readOnly: true, allowFail: true });
    const hasTable = cur.code === 0 && /start=/.test(cur.stdout);
    const have = hasTable ? normaliseDump(cur.stdout) : '';
    const matches = hasTable && have === want;
    const keepWanted = plan.partitions.some((p) => p.keep);
    const reason = !hasTable
      ? 'the disk has no partition table'
      : matches
        ? "the disk's table matches the plan"
        : `the disk's table differs from the plan (first difference: ${firstDifference(want, have)})`;
    this.s.tableReason = reason;
    this.line(reason);
    if (keepWanted && hasTable && !matches && plan.onTableMismatch === 'fail') {
      throw new StepError('table', `${reason}, and onTableMismatch is "fail": the partitions to keep are not touched (nothing was changed)`);
    }
    return keepWanted && matches;
  }

  private clearBootCode(disk: string): void {
    // An interrupted clone must not boot the old (or a half-written) system from this disk.
    this.o.log.line('partition', `${this.o.dryRun ? 'would clear' : 'clear'} the boot code (first ${BOOT_CODE_BYTES} bytes) of ${disk}`);
    if (!this.o.dryRun) {
      try {
        writeBootCode(disk, new Uint8Array(BOOT_CODE_BYTES));
      } catch (e) {
        throw new StepError('partition', `cannot write ${disk}: ${oneLine(e)}`);
      }
    }
  }

  /** Keeps the table when it matches and every kept file system checks clean; else writes the plan's table. */
  private async partition(devsApi: PartitionDevices, disk: string, keepCandidate: boolean): Promise<boolean> {
    const { plan } = this.o;
    let keep = keepCandidate;
    if (keep) {
      this.devs = await devsApi.open('partition', this.extents, { readOnly: this.o.dryRun });
      for (const p of plan.partitions.filter((x) => x.keep)) {
        const why = await this.checkKept(p);
        if (why !== undefined) {
          this.line(`partition ${p.number} (${p.label ?? p.mount ?? p.fs}) cannot be kept: ${why}`);
          if (plan.onTableMismatch === 'fail')
            throw new StepError('partition', `partition ${p.number} cannot be kept (${why}), and onTableMismatch is "fail": nothing was changed`);
          keep = false;
        } else this.line(`partition ${p.number} (${p.label ?? p.mount}) ${p.fs} checks clean: kept`);
      }
    }
    this.line(`decision: ${keep ? 'keep the table and the kept partitions' : "wipe: write the plan's table and make every file system"}`);
    this.clearBootCode(disk);
    if (!keep) {
      await devsApi.detachAll('partition');
      this.devs.clear();
      await this.cmd.run('partition', ['wipefs', '-a', '-q', disk]);
      await this.cmd.run('partition', ['sfdisk', '-q', '--no-reread', '--no-tell-kernel', disk], { input: sfdiskScript(plan, this.s.disk!.bytes) });
      this.s.table = 'written';
    } else this.s.table = 'kept';
    if (!this.o.dryRun) {
      const got = parseSfdiskJson((await this.cmd.run('partition', ['sfdisk', '-J', disk], { readOnly: true })).stdout).extents;
      if (got.length !== plan.partitions.length)
        throw new StepError('partition', `the disk shows ${got.length} partitions after partitioning, the plan has ${plan.partitions.length}`);
      this.extents = got;
      if (!keep) this.devs = await devsApi.open('partition', this.extents, { readOnly: false });
      for (const d of this.devs.values())
        this.line(
          `partition ${d.number}: ${d.path} (${d.loop ? 'loop device at offset ' + d.startBytes : 'kernel node'}, ${DEFAULT_SIZES_LOG_MIB(d.sizeBytes)})`,
        );
    }
    const raw = plan.image.kind === 'raw-partition' ? plan.image.partition : -1;
    for (const p of plan.partitions) {
      this.s.partitions.push({
        number: p.number,
        label: p.label,
        fs: p.fs,
        mount: p.mount,
        action: p.keep && keep ? 'kept' : p.number === raw ? 'raw-image' : p.fs === 'none' ? 'left-empty' : 'formatted',
      });
    }
    return keep;
  }

  /** Why a kept partition's file system cannot stay, or undefined when it checks clean. */
  private async checkKept(p: PartitionPlan): Promise<string | undefined> {
    const dev = this.devPath(p.number);
    const b = await this.cmd.run('partition', ['blkid', '-p', '-o', 'export', dev], { readOnly: true, allowFail: true });
    const id = parseBlkid(b.stdout);
    if (b.code !== 0 || id.TYPE === undefined) return 'blkid finds no file system';
    if (id.TYPE !== p.fs) return `blkid finds ${id.TYPE}, the plan says ${p.fs}`;
    if (p.label !== undefined && id.LABEL !== p.label) return `label is ${id.LABEL === undefined ? 'missing' : `"${id.LABEL}"`}, the plan says "${p.label}"`;
    const fsck = fsckCommand(p, dev);
    if (fsck !== undefined) {
      const r = await this.cmd.run('partition', fsck, { readOnly: true, allowFail: true });
      if (r.code !== 0) return `${fsck[0]} -n reports problems (exit ${r.code}: ${oneLine(r.stdout.split('\n').slice(-3).join(' ') || r.stderr)})`;
    }
    return undefined;
  }

  private devPath(n: number): string {
    return this.devs.get(n)?.path ?? `<partition ${n} of ${this.diskPath}>`;
  }

  private async mkfs(): Promise<void> {
    const { plan } = this.o;
    const raw = plan.image.kind === 'raw-partition' ? plan.image.partition : -1;
    for (const p of plan.partitions) {
      if ((p.keep && this.s.table === 'kept') || p.number === raw) continue;
      const c = mkfsCommand(p, this.devPath(p.number));
      if (c !== undefined) await this.cmd.run('mkfs', c);
    }
  }

  private async readUuids(): Promise<void> {
    for (const p of this.o.plan.partitions) {
      if (p.fs === 'none') continue;
      if (this.o.dryRun) continue;
      const r = await this.cmd.run('fixups', ['blkid', '-p', '-o', 'export', this.devPath(p.number)], { readOnly: true, allowFail: true, quiet: true });
      const uuid = parseBlkid(r.stdout).UUID;
      if (uuid !== undefined) this.uuids.set(p.number, uuid);
      const entry = this.s.partitions.find((x) => x.number === p.number);
      if (entry !== undefined && uuid !== undefined) entry.uuid = uuid;
    }
  }

  /** The root, then the other (not kept) partitions with a mount point, parents first. */
  private async mountAll(): Promise<void> {
    const { plan } = this.o;
    const list = plan.partitions
      .filter((p) => p.mount !== undefined && !(p.keep && this.s.table === 'kept'))
      .sort((a, b) => a.mount!.split('/').filter(Boolean).length - b.mount!.split('/').filter(Boolean).length);
    if (!this.o.dryRun) mkdirSync(this.o.rootDir, { recursive: true });
    for (const p of list) {
      const dir = p.mount === '/' ? this.o.rootDir : join(this.o.rootDir, p.mount!);
      if (!this.o.dryRun) mkdirSync(dir, { recursive: true });
      await this.cmd.run('mount', ['mount', '-t', p.fs, this.devPath(p.number), dir]);
      if (!this.o.dryRun) this.mounted.push(dir);
      if (p.mount === '/' && !this.o.dryRun) this.o.log.attachRoot(join(this.o.rootDir, 'var/log/rackcast-clone.log'));
    }
    const kept = plan.partitions.filter((p) => p.keep && this.s.table === 'kept');
    if (kept.length > 0) this.line(`kept partitions are not mounted while the image is written (${kept.map((p) => p.mount ?? p.number).join(', ')})`);
  }

  private async unmountAll(afterFailure: boolean): Promise<void> {
    this.o.log.detachRoot();
    while (this.mounted.length > 0) {
      const dir = this.mounted.pop()!;
      const r = await this.cmd.run('finish', ['umount', dir], { allowFail: afterFailure });
      if (r.code !== 0) await this.cmd.run('finish', ['umount', '-l', dir], { allowFail: true });
    }
  }

  private async receive(target: { unpack: string } | { file: string }): Promise<ReceiveSummary> {
    const argv = receiverArgv(this.o.plan.receiver, this.o.env.IFACE, target);
    if (this.o.dryRun) {
      this.line(`would receive the image in this process, as udp-receiver ${argv.join(' ')}`);
      return { verified: false, sessionId: 0, receiverId: 0, cloneReports: false, bytes: 0, digest: '', sender: '', seconds: 0 };
    }
    const r = await receiveImage({ argv, log: this.o.log, logFile: this.o.receiverLogFile });
    this.receiverArgv = argv;
    this.line(
      `verified sha256 ${r.digest}: ${r.bytes} bytes from ${r.sender} in ${r.seconds.toFixed(1)} s${r.format !== undefined && r.format !== 'none' ? ` (${r.format}, ${r.outBytes} bytes decompressed)` : ''}`,
    );
    return r;
  }
}

/**
 * Runs the plan, then reports the clone to the sender when the image had verified (done, or
 * failed at a later step) and the sender's HELLO asked for it; never throws (a failure is in
 * the summary).
 */
export async function runAgent(o: AgentOptions): Promise<CloneSummary> {
  const run = new Run(o);
  const s = await run.run();
  const img = s.image;
  if (!o.dryRun && img !== undefined && img.verified && img.receiverId !== 0 && run.receiverArgv !== undefined) {
    if (!img.cloneReports) {
      o.log.line('report', 'the sender does not wait for clone reports (udp-sender --clone-reports): none sent');
      return s;
    }
    const session = { sessionId: img.sessionId, receiverId: img.receiverId, senderAddress: img.sender, receiverArgv: run.receiverArgv };
    const report = cloneReportOf(s, o.plan.bootloader.kind, session);
    s.reported = await sendCloneReport({ report, session, log: o.log, giveUpMs: o.reportGiveUpMs ?? DEFAULT_GIVE_UP_MS });
  }
  return s;
}
