// rackcast-clone end to end, as root, against sparse disk images on loop devices: a real
// udp-sender on loopback sends a node.cpio.gz / .zst made by GNU cpio (crc format) of a small
// root tree; the agent partitions (GPT and DOS), makes file systems, unpacks, applies the
// fixups and installs extlinux; the host then checks the result through its own loop
// devices at the partitions' offsets. Also: --dry-run leaves the disk's bytes unchanged,
// /data is kept when the table matches and its file system checks clean (a file on it
// survives) and wiped when it is corrupt, and each failure stops at its step with its one
// line and exit code, never with a bootloader after a failed transfer.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../clone/steps.js';
import { haveCommand, IS_ROOT } from '../support/host.js';
import { describeRun, newSession, Processes, parseJsonReport, type RunResult, SENDER_CLI, type Session, senderNetArgs } from './helpers.js';

const CLONE_CLI = fileURLToPath(new URL('../../dist/clone/cli.js', import.meta.url));
const TOOLS = ['sfdisk', 'losetup', 'mkfs.ext4', 'mkswap', 'extlinux', 'cpio', 'zstd', 'wipefs', 'blkid', 'e2fsck', 'ssh-keygen'];
const missingTool = TOOLS.find((t) => !haveCommand(t));
const why = !IS_ROOT
  ? 'needs root (loop devices, mount)'
  : missingTool !== undefined
    ? `${missingTool} is missing (bench/lab-deps.sh installs it as root)`
    : !existsSync(CLONE_CLI)
      ? `${CLONE_CLI} missing: npm run build`
      : undefined;
if (why !== undefined) console.log(`clone-agent: skipped: ${why}`);

const MiB = 1 << 20;
const MBR_DIR = '/usr/lib/syslinux/mbr';
const MAC = '52:54:00:12:34:56';

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function firstBytes(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, 0);
  closeSync(fd);
  return b;
}

/** A small root: identity files to fix, a kernel and initrd, data; with ssh-keygen (and its libraries) if asked. */
function makeRoot(dir: string, opts: { sshKeygen: boolean; bigFileMiB?: number }): void {
  for (const d of ['etc/ssh', 'etc/udev/rules.d', 'boot', 'usr/bin', 'var/log', 'data', 'srv', 'var/lib/dbus']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'etc/hostname'), 'golden\n');
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tgolden\n');
  writeFileSync(join(dir, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  writeFileSync(join(dir, 'var/lib/dbus/machine-id'), '0123456789abcdef0123456789abcdef\n');
  writeFileSync(join(dir, 'etc/udev/rules.d/70-persistent-net.rules'), 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:aa:bb:cc", NAME="eth0"\n');
  writeFileSync(join(dir, 'etc/udev/rules.d/99-local.rules'), '# stays\n');
  writeFileSync(join(dir, 'etc/ssh/ssh_host_ed25519_key'), 'the golden image key\n');
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(dir, 'boot/vmlinuz-6.1.0-test'), randomBytes(200_000));
  symlinkSync('boot/vmlinuz-6.1.0-test', join(dir, 'vmlinuz'));
  writeFileSync(join(dir, 'boot/initrd.img-6.1.0-test'), randomBytes(100_000));
  symlinkSync('boot/initrd.img-6.1.0-test', join(dir, 'initrd.img'));
  writeFileSync(join(dir, 'srv/payload.bin'), randomBytes(3 * MiB));
  if (opts.bigFileMiB !== undefined) writeFileSync(join(dir, 'srv/big.bin'), randomBytes(opts.bigFileMiB * MiB));
  if (opts.sshKeygen) {
    copyFileSync('/usr/bin/ssh-keygen', join(dir, 'usr/bin/ssh-keygen'));
    chmodSync(join(dir, 'usr/bin/ssh-keygen'), 0o755);
    for (const lib of sh('ldd', ['/usr/bin/ssh-keygen']).match(/\/\S+/g) ?? []) {
      mkdirSync(join(dir, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(dir, lib));
    }
  }
}

/** GNU cpio -o --format=crc of the tree, compressed by the gzip or zstd CLI. */
function pack(dir: string, out: string, compress: 'gzip' | 'zstd'): void {
  const r = spawnSync('sh', ['-c', `find . | cpio -o --quiet --format=crc | ${compress === 'gzip' ? 'gzip -6' : 'zstd -q -3'} > '${out}'`], { cwd: dir });
  if (r.status !== 0) throw new Error(r.stderr.toString());
}

interface Disk {
  readonly file: string;
  readonly loop: string;
}

describe.skipIf(why !== undefined)('rackcast-clone on loop-device disks (root)', () => {
  const procs = new Processes();
  const loops: string[] = [];
  const mounts: string[] = [];
  let work = '';
  let gz = '';
  let zst = '';
  let gzNoSsh = '';
  let gzBig = '';
  let runNo = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rackcast-clone-'));
    const root = join(work, 'golden');
    makeRoot(root, { sshKeygen: true });
    gz = join(work, 'node.cpio.gz');
    zst = join(work, 'node.cpio.zst');
    pack(root, gz, 'gzip');
    pack(root, zst, 'zstd');
    const bare = join(work, 'golden-nossh');
    makeRoot(bare, { sshKeygen: false });
    gzNoSsh = join(work, 'node-nossh.cpio.gz');
    pack(bare, gzNoSsh, 'gzip');
    const big = join(work, 'golden-big');
    makeRoot(big, { sshKeygen: false, bigFileMiB: 48 });
    gzBig = join(work, 'node-big.cpio.gz');
    pack(big, gzBig, 'gzip');
  });

  afterEach(async () => {
    await procs.killLeftovers();
    while (mounts.length > 0) spawnSync('umount', [mounts.pop()!]);
  });

  afterAll(async () => {
    // partx -d: the partitions the agent's partx -u added to a disk's loop device outlive its detach.
    for (const l of loops) {
      spawnSync('partx', ['-d', l]);
      spawnSync('losetup', ['-d', l]);
    }
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  function newDisk(mib: number): Disk {
    const file = join(work, `disk${++runNo}.img`);
    writeFileSync(file, '');
    truncateSync(file, mib * MiB);
    const loop = sh('losetup', ['-f', '--show', file]).trim();
    loops.push(loop);
    return { file, loop };
  }

  function planFor(disk: Disk, s: Session, over: Record<string, unknown> = {}, table: 'gpt' | 'dos' = 'gpt'): Record<string, unknown> {
    return {
      disk: { path: disk.loop },
      table,
      partitions: [
        { size: '16M', type: 'swap', fs: 'swap', label: 'swap' },
        { size: '120M', fs: 'ext4', label: 'root', mount: '/' },
        { size: 'rest', fs: 'ext4', label: 'data', mount: '/data', keep: true },
      ],
      image: { kind: 'unpack', into: '/' },
      receiver: { portbase: s.portbase, rdvAddress: s.rdvGroup, interface: '127.0.0.1', startTimeout: 30, receiveTimeout: 4 },
      fixups: { hostname: ['dhcp', { macMap: { [MAC]: 'node07' } }, { fixed: 'fallback' }], sshHostKeys: 'keep' },
      bootloader: { kind: 'extlinux', kernel: '/vmlinuz', initrd: '/initrd.img', append: 'ro quiet' },
      onSuccess: 'reboot',
      ...over,
    };
  }

  interface CloneRun {
    readonly r: RunResult;
    /** The sender's run, when the test waited for it (awaitSender). */
    readonly sender?: RunResult;
    readonly out: string[];
    readonly state: string;
    readonly logFile: string;
  }

  /** The agent (and a sender for the image, unless none), with its own state dir and log. */
  /** The last agent run's output, for a failure to mount what it left. */
  let lastAgentOut = '';

  async function clone(
    plan: Record<string, unknown>,
    opts: { image?: string; s?: Session; hostname?: string; args?: string[]; senderArgs?: string[]; killSenderAfterMs?: number; awaitSender?: boolean } = {},
  ): Promise<CloneRun> {
    const d = join(work, `run${++runNo}`);
    mkdirSync(d);
    writeFileSync(join(d, 'plan.json'), JSON.stringify(plan));
    writeFileSync(join(d, 'net.env'), `IFACE='lo'\nMAC='${MAC}'\nIP='127.0.0.1'\nHOSTNAME='${opts.hostname ?? ''}'\n`);
    const sender =
      opts.image !== undefined
        ? procs.start('sender', SENDER_CLI, [...senderNetArgs(opts.s!), '--min-receivers', '1', '--file', opts.image, ...(opts.senderArgs ?? [])], {
            timeoutMs: 90_000,
          })
        : undefined;
    const agent = procs.start(
      'rackcast-clone',
      CLONE_CLI,
      [
        '--plan',
        join(d, 'plan.json'),
        '--net-env',
        join(d, 'net.env'),
        '--root',
        join(d, 'root'),
        '--log-file',
        join(d, 'clone.log'),
        '--state-dir',
        join(d, 'state'),
        '--no-end-action',
        ...(opts.args ?? []),
      ],
      { timeoutMs: 90_000 },
    );
    if (opts.killSenderAfterMs !== undefined && sender !== undefined) {
      setTimeout(() => sender.kill('SIGKILL'), opts.killSenderAfterMs);
    }
    const r = await agent.result;
    lastAgentOut = r.stdout;
    if (sender !== undefined && opts.awaitSender !== true) sender.shortenDeadline(2000);
    // The agent reported before it exited: a sender waiting for clone reports ends soon after.
    if (sender !== undefined && opts.awaitSender === true) sender.shortenDeadline(10_000);
    const senderRun = opts.awaitSender === true ? await sender?.result : undefined;
    return { r, sender: senderRun, out: r.stdout.trim().split('\n'), state: join(d, 'state'), logFile: join(d, 'clone.log') };
  }

  function expectDone(c: CloneRun): void {
    expect(c.r.timedOut, describeRun(c.r)).toBe(false);
    expect(c.r.code, describeRun(c.r)).toBe(0);
    expect(c.out[c.out.length - 1]).toBe('rackcast-clone: done');
  }

  function expectFailedAt(c: CloneRun, step: keyof typeof EXIT_CODES, re: RegExp): void {
    expect(c.r.timedOut, describeRun(c.r)).toBe(false);
    expect(c.r.code, describeRun(c.r)).toBe(EXIT_CODES[step]);
    const last = c.out[c.out.length - 1]!;
    expect(last.startsWith(`rackcast-clone: failed at ${step}: `), describeRun(c.r)).toBe(true);
    expect(last).toMatch(re);
    expect(c.out.filter((l) => l.startsWith('rackcast-clone: failed at'))).toHaveLength(1);
  }

  /**
   * Waits until nothing the agent mounted from the disk is still alive, then makes the image
   * file show what the agent wrote. Two things on this host can make the file lag the disk:
   * - A process that entered a new mount namespace while the agent's file systems were mounted
   *   (`ip netns exec`, as the namespace tests running beside this file do) holds copies of
   *   those mounts: the agent's umount returns, but the file system is written back and closed
   *   only when that process exits. Its stacked loops (the offset case) stay attached till then.
   * - The agent writes through the disk's loop device (its partitions, or loops stacked on it)
   *   and the test reads the file through loops of its own; each block device has its own page
   *   cache, so the disk loop's caches are written back and dropped.
   * A node has one mount namespace and one path to its disk; neither applies there.
   */
  async function settle(disk: Disk): Promise<void> {
    const name = disk.loop.replace('/dev/', '');
    const parts = (): string[] => (existsSync(`/sys/block/${name}`) ? readdirSync(`/sys/block/${name}`).filter((f) => f.startsWith(`${name}p`)) : []);
    const busy = (): string[] => [
      ...parts().filter((p) => existsSync(`/sys/fs/ext4/${p}`)),
      ...sh('losetup', ['-n', '-O', 'NAME', '-j', disk.loop])
        .split('\n')
        .filter((l) => l.trim() !== ''),
    ];
    const deadline = Date.now() + 60_000;
    while (busy().length > 0) {
      if (Date.now() > deadline) throw new Error(`the agent's file systems on ${disk.loop} are still in use after 60 s: ${busy().join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    sh('sync', []);
    for (const dev of [disk.loop, ...parts().map((p) => `/dev/${p}`)]) if (existsSync(dev)) sh('blockdev', ['--flushbufs', dev]);
  }

  /** The disk image's partitions (from its table), each mounted read-only through a loop device at its offset. */
  async function mountPartition(disk: Disk, n: number): Promise<string> {
    await settle(disk);
    const j = JSON.parse(sh('sfdisk', ['-J', disk.file])) as { partitiontable: { partitions: { start: number; size: number }[] } };
    const p = j.partitiontable.partitions[n - 1]!;
    const dir = join(work, `chk${++runNo}`);
    mkdirSync(dir);
    // Our own read-only loop at the offset (mount -o loop refuses a file the disk's loop overlaps).
    const loop = sh('losetup', ['-r', '-f', '--show', '-o', String(p.start * 512), '--sizelimit', String(p.size * 512), disk.file]).trim();
    loops.push(loop);
    sh('blockdev', ['--flushbufs', loop]);
    try {
      sh('mount', ['-o', 'ro', loop, dir]);
    } catch (e) {
      const steps = lastAgentOut.split('\n').filter((l) => /umount|losetup|finish|failed/.test(l));
      throw new Error(`${(e as Error).message}\nmounts: ${sh('findmnt', ['-rn', '-o', 'SOURCE,TARGET'])}\nagent: ${steps.join('\n')}`);
    }
    mounts.push(dir);
    return dir;
  }

  function partitionOffset(disk: Disk, n: number): { start: number; size: number } {
    const j = JSON.parse(sh('sfdisk', ['-J', disk.file])) as { partitiontable: { partitions: { start: number; size: number }[] } };
    const p = j.partitiontable.partitions[n - 1]!;
    return { start: p.start * 512, size: p.size * 512 };
  }

  function unmount(dir: string): void {
    sh('umount', [dir]);
    mounts.splice(mounts.indexOf(dir), 1);
  }

  it('GPT, node.cpio.gz: dry run touches nothing; then partitions, unpacks, fixes identity, installs extlinux; /data kept on the next run, wiped when corrupt', async () => {
    const disk = newDisk(256);
    const s = newSession();
    const plan = planFor(disk, s, { fixups: { hostname: ['dhcp', { macMap: { [MAC]: 'node07' } }], sshHostKeys: 'regenerate' } });

    // Dry run against the blank disk: the decision and every command, and not one byte changed.
    const before = sha(disk.file);
    const dry = await clone(plan, { args: ['--dry-run'] });
    expectDone(dry);
    expect(sha(disk.file)).toBe(before);
    expect(dry.r.stdout).toMatch(/table: the disk has no partition table/);
    expect(dry.r.stdout).toMatch(/decision: wipe/);
    expect(dry.r.stdout).toMatch(/would run: sfdisk -q --no-reread --no-tell-kernel \/dev\/loop\d+/);
    expect(dry.r.stdout).toMatch(/would run: mkfs\.ext4 -F -q -L root -O '\^metadata_csum,\^metadata_csum_seed,\^orphan_file'/);
    expect(dry.r.stdout).toMatch(/would receive the image in this process, as udp-receiver --portbase \d+/);
    expect(existsSync(join(dry.state, 'on-failure'))).toBe(false);

    const c = await clone(plan, { image: gz, s, senderArgs: ['--clone-reports', '30', '--json'], awaitSender: true });
    expectDone(c);
    // The sender heard the whole clone: its table and --json show the node's host, table, fixups, bootloader.
    expect(c.r.stdout).toMatch(/report: the sender confirmed the clone report \(\d+ sends?\)/);
    const sr = c.sender!;
    expect(sr.timedOut, describeRun(sr)).toBe(false);
    expect(sr.code, describeRun(sr)).toBe(0);
    expect(sr.stderr).toMatch(/receiver +address +bytes +state +host +table +fixups +bootloader +detail/);
    expect(sr.stderr).toMatch(/[0-9a-f]{8} +127\.0\.0\.1 +\d+ +verified +node07 +written +ok +extlinux\n/);
    const sj = parseJsonReport<{ ok: boolean; receivers: { state: string; clone?: Record<string, unknown> }[]; stats: Record<string, number> }>(sr);
    expect(sj.ok).toBe(true);
    expect(sj.receivers).toHaveLength(1);
    expect(sj.receivers[0]!.clone).toMatchObject({
      state: 'reported',
      ok: true,
      host: 'node07',
      table: 'written',
      partitionsFormatted: 3,
      partitionsKept: 0,
      fixups: 'ok',
      bootloader: 'extlinux',
    });
    expect(sj.stats.cloneReports).toBe(1);
    expect(c.r.stdout).toMatch(/receive: verified sha256 [0-9a-f]{64}: \d+ bytes from 127\.0\.0\.1 .*\(gzip, \d+ bytes decompressed\)/);
    expect(c.r.stdout).toMatch(/end action reboot not performed \(--no-end-action\)/);
    // Each step logged with its time, to the console and /tmp/clone.log's stand-in.
    for (const step of ['disk', 'table', 'partition', 'mkfs', 'mount', 'receive', 'fixups', 'bootloader', 'finish']) {
      expect(c.r.stdout, step).toMatch(new RegExp(`rackcast-clone: \\[ *\\d+\\.\\ds\\] ${step}: `));
    }
    expect(readFileSync(c.logFile, 'utf8')).toContain('rackcast-clone: done');
    const summary = JSON.parse(readFileSync(join(c.state, 'result.json'), 'utf8'));
    expect(summary).toMatchObject({
      ok: true,
      host: 'node07',
      table: 'written',
      image: { verified: true, cloneReports: true },
      bootloader: { kind: 'extlinux', installed: true },
      reported: 'acked',
    });
    expect(summary.partitions.map((p: { action: string }) => p.action)).toEqual(['formatted', 'formatted', 'formatted']);

    // The MBR's boot code is syslinux's gptmbr.bin; the rest of sector 0 (the protective MBR) is sfdisk's.
    await settle(disk);
    expect(firstBytes(disk.file, 440).equals(readFileSync(join(MBR_DIR, 'gptmbr.bin')).subarray(0, 440))).toBe(true);
    const root = await mountPartition(disk, 2);
    expect(readFileSync(join(root, 'srv/payload.bin')).equals(readFileSync(join(work, 'golden/srv/payload.bin')))).toBe(true);
    expect(existsSync(join(root, '.rackcast-incomplete'))).toBe(false);
    expect(readFileSync(join(root, 'etc/hostname'), 'utf8')).toBe('node07\n');
    expect(readFileSync(join(root, 'etc/hosts'), 'utf8')).toBe('127.0.0.1\tlocalhost\n127.0.1.1\tnode07\n');
    expect(readFileSync(join(root, 'etc/machine-id'), 'utf8')).toBe('');
    expect(existsSync(join(root, 'var/lib/dbus/machine-id'))).toBe(false);
    expect(existsSync(join(root, 'etc/udev/rules.d/70-persistent-net.rules'))).toBe(false);
    expect(existsSync(join(root, 'etc/udev/rules.d/99-local.rules'))).toBe(true);
    expect(readFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key'), 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(existsSync(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'))).toBe(true);
    expect(readFileSync(join(root, 'etc/fstab'), 'utf8')).toMatch(
      /^LABEL=swap none swap sw 0 0\nLABEL=root \/ ext4 defaults,errors=remount-ro 0 1\nLABEL=data \/data ext4 defaults 0 2$/m,
    );
    expect(existsSync(join(root, 'boot/extlinux/ldlinux.sys'))).toBe(true);
    expect(readFileSync(join(root, 'boot/extlinux/extlinux.conf'), 'utf8')).toMatch(
      /LINUX \/boot\/vmlinuz-6\.1\.0-test\n {2}INITRD \/boot\/initrd\.img-6\.1\.0-test\n {2}APPEND root=LABEL=root ro quiet/,
    );
    expect(readFileSync(join(root, 'var/log/rackcast-clone.log'), 'utf8')).toMatch(/bootloader: extlinux: installed/);
    unmount(root);
    const blk = sh('blkid', ['-p', '-o', 'export', '--offset', String(partitionOffset(disk, 2).start), disk.file]);
    expect(blk).toMatch(/LABEL=root/);

    // A file on /data survives the next clone: same table (new label-ids would not matter), clean fs.
    const dataOff = partitionOffset(disk, 3);
    const dataLoop = sh('losetup', ['-f', '--show', '-o', String(dataOff.start), '--sizelimit', String(dataOff.size), disk.file]).trim();
    const dataDir = join(work, 'data-rw');
    mkdirSync(dataDir);
    try {
      sh('mount', [dataLoop, dataDir]);
      writeFileSync(join(dataDir, 'keep-me.txt'), 'precious\n');
      sh('umount', [dataDir]);
    } finally {
      sh('losetup', ['-d', dataLoop]);
    }
    await settle(disk);
    const s2 = newSession();
    const plan2 = { ...planFor(disk, s2), fixups: { hostname: ['dhcp', { fixed: 'fallback' }], sshHostKeys: 'keep' } };
    const dry2 = await clone(plan2, { args: ['--dry-run'] });
    expectDone(dry2);
    expect(dry2.r.stdout).toMatch(/table: the disk's table matches the plan/);
    expect(dry2.r.stdout).toMatch(/partition 3 \(data\) ext4 checks clean: kept/);
    expect(dry2.r.stdout).toMatch(/decision: keep the table/);
    const c2 = await clone(plan2, { image: zst, s: s2, hostname: 'fromdhcp.rack.example' });
    expectDone(c2);
    // A sender without --clone-reports does not ask for the report: none is sent, nobody waits.
    expect(c2.r.stdout).toMatch(/report: the sender does not wait for clone reports \(udp-sender --clone-reports\): none sent/);
    expect(JSON.parse(readFileSync(join(c2.state, 'result.json'), 'utf8'))).toMatchObject({ table: 'kept', host: 'fromdhcp' });
    const data = await mountPartition(disk, 3);
    expect(readFileSync(join(data, 'keep-me.txt'), 'utf8')).toBe('precious\n');
    unmount(data);
    const root2 = await mountPartition(disk, 2);
    expect(readFileSync(join(root2, 'etc/hostname'), 'utf8')).toBe('fromdhcp\n');
    unmount(root2);

    // The data file system corrupt (its superblock overwritten): the keep check fails, /data is wiped.
    const fd = openSync(disk.file, 'r+');
    writeSync(fd, randomBytes(4096), 0, 4096, dataOff.start + 1024);
    closeSync(fd);
    await settle(disk);
    const s3 = newSession();
    const c3 = await clone(planFor(disk, s3), { image: gz, s: s3 });
    expectDone(c3);
    expect(c3.r.stdout).toMatch(/partition 3 \(data\) cannot be kept: blkid finds no file system/);
    expect(c3.r.stdout).toMatch(/decision: wipe/);
    const data3 = await mountPartition(disk, 3);
    expect(existsSync(join(data3, 'keep-me.txt'))).toBe(false);
    unmount(data3);
  });

  it('a table that differs with onTableMismatch "fail": stops at table, the disk unchanged', async () => {
    const disk = newDisk(256);
    const s = newSession();
    expectDone(await clone(planFor(disk, s, { bootloader: { kind: 'none' } }), { image: gz, s }));
    const before = sha(disk.file);
    const other = planFor(disk, newSession(), { onTableMismatch: 'fail', bootloader: { kind: 'none' } });
    (other.partitions as Record<string, unknown>[])[0]!.size = '24M';
    const c = await clone(other);
    expectFailedAt(
      c,
      'table',
      /the disk's table differs from the plan \(first difference: want "1: start=2048, size=49152, .*", disk has "1: start=2048, size=32768, .*"\), and onTableMismatch is "fail"/,
    );
    expect(sha(disk.file)).toBe(before);
    expect(readFileSync(join(c.state, 'on-failure'), 'utf8')).toBe('retry\n');
  });

  it('DOS, node.cpio.zst, partitions through loop devices by offset: mbr.bin, the boot flag, a fixed host name; encrypted, the clone report too', async () => {
    const disk = newDisk(200);
    const s = newSession();
    const key = join(work, `rack${++runNo}.key`);
    writeFileSync(key, randomBytes(32).toString('hex'), { mode: 0o600 });
    const plan = planFor(disk, s, { fixups: { hostname: [{ fixed: 'rack1-n3' }], sshHostKeys: 'keep', fstab: 'uuid' }, onSuccess: 'shell' }, 'dos');
    (plan.receiver as Record<string, unknown>).keyFile = key;
    (plan.receiver as Record<string, unknown>).encrypt = true;
    const c = await clone(plan, {
      image: zst,
      s,
      args: ['--partition-devices', 'loop'],
      senderArgs: ['--key-file', key, '--encrypt', '--clone-reports', '30', '--json'],
      awaitSender: true,
    });
    expectDone(c);
    // The report went sealed with the session's key (the sender opens only sealed datagrams).
    expect(c.r.stdout).toMatch(/report: the sender confirmed the clone report/);
    const sr = c.sender!;
    expect(sr.code, describeRun(sr)).toBe(0);
    const sj = parseJsonReport<{ receivers: { clone?: Record<string, unknown> }[]; auth: { opened: number } }>(sr);
    expect(sj.receivers[0]!.clone).toMatchObject({ state: 'reported', ok: true, host: 'rack1-n3', table: 'written', fixups: 'ok', bootloader: 'extlinux' });
    expect(sj.auth.opened).toBeGreaterThan(0);
    expect(c.r.stdout).toMatch(/partition 2: \/dev\/loop\d+ \(loop device at offset 17825792, 120 MiB\)/);
    expect(c.r.stdout).toMatch(/\(zstd, \d+ bytes decompressed\)/);
    await settle(disk);
    expect(firstBytes(disk.file, 440).equals(readFileSync(join(MBR_DIR, 'mbr.bin')).subarray(0, 440))).toBe(true);
    expect(sh('sfdisk', ['-d', disk.file])).toMatch(/start=\s*34816, size=\s*245760, type=83, bootable/);
    const root = await mountPartition(disk, 2);
    expect(readFileSync(join(root, 'etc/hostname'), 'utf8')).toBe('rack1-n3\n');
    expect(readFileSync(join(root, 'etc/fstab'), 'utf8')).toMatch(/^UUID=[0-9a-f-]{36} \/ ext4 /m);
    expect(readFileSync(join(root, 'boot/extlinux/extlinux.conf'), 'utf8')).toMatch(/APPEND root=UUID=[0-9a-f-]{36} ro quiet/);
    expect(existsSync(join(root, 'boot/extlinux/ldlinux.sys'))).toBe(true);
    unmount(root);
    // Every loop device the agent made is gone again.
    expect(sh('losetup', ['-j', disk.loop]).trim()).toBe('');
  });

  it('ssh host keys asked for, the image has no ssh-keygen: stops at fixups with one line; no bootloader', async () => {
    const disk = newDisk(200);
    const s = newSession();
    const c = await clone(planFor(disk, s, { fixups: { hostname: [{ fixed: 'n1' }], sshHostKeys: 'regenerate' } }), { image: gzNoSsh, s });
    expectFailedAt(
      c,
      'fixups',
      /the image has no ssh-keygen \(\/usr\/bin\/ssh-keygen\) to make new SSH host keys: install openssh-client in the image, or set fixups\.sshHostKeys to "keep"$/,
    );
    await settle(disk);
    expect(firstBytes(disk.file, 440).equals(Buffer.alloc(440))).toBe(true);
    const root = await mountPartition(disk, 2);
    expect(existsSync(join(root, 'boot/extlinux'))).toBe(false);
    unmount(root);
  });

  it('a disk too small for the layout: stops at disk before touching it', async () => {
    const disk = newDisk(100);
    const before = sha(disk.file);
    const c = await clone(planFor(disk, newSession()));
    expectFailedAt(c, 'disk', /\/dev\/loop\d+ is 100 MiB, too small for the plan's partitions \(they need at least 138 MiB\)/);
    expect(sha(disk.file)).toBe(before);
  });

  it('mkfs fails (an extended option mkfs.ext4 refuses): stops at mkfs', async () => {
    const disk = newDisk(200);
    const plan = planFor(disk, newSession());
    (plan.partitions as Record<string, unknown>[])[1]!.mkfsOptions = ['-E', 'no-such-option=1'];
    const c = await clone(plan);
    expectFailedAt(c, 'mkfs', /^rackcast-clone: failed at mkfs: mkfs\.ext4 failed \(exit 1\): /);
  });

  it('the sender killed mid-transfer: stops at receive; the root is marked incomplete and no bootloader is installed', async () => {
    const disk = newDisk(256);
    const s = newSession();
    const c = await clone(planFor(disk, s), { image: gzBig, s, senderArgs: ['--max-bitrate', '40m'], killSenderAfterMs: 2500 });
    expectFailedAt(c, 'receive', /the image did not verify: /);
    // The log says what the receiver heard before the sender went: data, and nothing sent back unasked.
    const counters = c.out.find((l) => l.includes('receive: receiver counters: '));
    expect(counters, describeRun(c.r)).toMatch(/the data socket read [1-9]\d* datagrams .*; [1-9]\d* DATA and \d+ parity taken, .*; dropped /);
    await settle(disk);
    expect(firstBytes(disk.file, 440).equals(Buffer.alloc(440))).toBe(true);
    const root = await mountPartition(disk, 2);
    expect(existsSync(join(root, '.rackcast-incomplete'))).toBe(true);
    expect(existsSync(join(root, 'boot/extlinux'))).toBe(false);
    unmount(root);
    expect(readFileSync(join(c.state, 'on-failure'), 'utf8')).toBe('retry\n');
  });

  it('the plan names a kernel the image lacks: stops at bootloader; grub without grub-install in the image likewise', async () => {
    const disk = newDisk(200);
    const s = newSession();
    const c = await clone(planFor(disk, s, { bootloader: { kind: 'extlinux', kernel: '/boot/vmlinuz-missing' }, onFailure: 'shell' }), {
      image: gz,
      s,
      senderArgs: ['--clone-reports', '30', '--json'],
      awaitSender: true,
    });
    expectFailedAt(c, 'bootloader', /the image has no kernel at \/boot\/vmlinuz-missing \(bootloader\.kernel\)$/);
    // The image verified, so the sender hears how the clone failed: exit 4, the step in its table.
    const sr = c.sender!;
    expect(sr.timedOut, describeRun(sr)).toBe(false);
    expect(sr.code, describeRun(sr)).toBe(4);
    expect(sr.stderr).toMatch(/verified +node07 +written +ok +extlinux failed +clone failed at bootloader: the image has no kernel at \/boot\/vmlinuz-missing/);
    expect(sr.stderr).toMatch(/udp-sender: 1 node\(s\) verified the image but did not finish their clone/);
    const sj = parseJsonReport<{ ok: boolean; receivers: { state: string; clone?: Record<string, unknown> }[] }>(sr);
    expect(sj.receivers[0]).toMatchObject({
      state: 'verified',
      clone: { state: 'reported', ok: false, host: 'node07', failedStep: 'bootloader', fixups: 'ok', bootloader: 'extlinux failed' },
    });
    await settle(disk);
    expect(firstBytes(disk.file, 440).equals(Buffer.alloc(440))).toBe(true);
    expect(readFileSync(join(c.state, 'on-failure'), 'utf8')).toBe('shell\n');
    const s2 = newSession();
    const g = await clone(planFor(disk, s2, { bootloader: { kind: 'grub' } }), { image: gz, s: s2 });
    expectFailedAt(
      g,
      'bootloader',
      /the image has no \/usr\/sbin\/grub-install: install grub-pc \(BIOS\) or grub-efi in the image, or use bootloader extlinux$/,
    );
  });

  it('a plan with a mistake is refused before anything is touched (exit 2), every error printed with its field', async () => {
    const disk = newDisk(200);
    const plan = planFor(disk, newSession());
    (plan.partitions as Record<string, unknown>[])[1]!.size = '12Q';
    (plan.partitions as Record<string, unknown>[])[0]!.keep = true;
    const before = sha(disk.file);
    const c = await clone(plan);
    expect(c.r.code).toBe(2);
    expect(c.r.stdout).toContain('plan: partitions[1].size: "12Q" is not a size (e.g. 512M, 20G, 40%, rest)');
    expect(c.r.stdout).toContain('plan: partitions[0].keep: needs a file system to check and keep (fs is swap)');
    expect(c.out[c.out.length - 1]).toMatch(/^rackcast-clone: failed at plan: 2 error\(s\) in .*plan\.json, e\.g\. partitions\[0\]\.keep/);
    expect(sha(disk.file)).toBe(before);
  });
});
