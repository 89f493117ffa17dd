// The PXE rig of the netboot VM test: one network namespace with a bridge and a tap per VM,
// dnsmasq (DHCP + TFTP) and the udp-sender in it, qemu VMs (TCG, one vCPU) on the taps, and
// host-side checks of the VMs' disks through loop devices mapped by offset (this host's
// kernel reads no partition tables on loop devices). Everything made here is registered
// with a Cleanup first, so a failing test leaves no namespace, tap, mount, loop device or
// process behind. Addresses: 198.19.7.0/24 (the benchmarking range), in that namespace only.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';

export const NET_PREFIX = '198.19.7';
export const HOST_ADDR = `${NET_PREFIX}.1`;

/** Tools the VM test runs, with the Debian package of each (netboot/deps.sh installs them). */
export const VM_TOOLS: Readonly<Record<string, string>> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  dnsmasq: 'dnsmasq-base',
  ip: 'iproute2',
  losetup: 'mount',
  mount: 'mount',
  sfdisk: 'fdisk',
  cpio: 'cpio',
  gzip: 'gzip',
  'ssh-keygen': 'openssh-client',
  busybox: 'busybox-static',
  xz: 'xz-utils',
};
/** qemu's own choice of boot ROM for virtio-net-pci (Debian's ipxe-qemu; found through its firmware path). */
export const PXE_ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';

function which(cmd: string): string | undefined {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin']) if (existsSync(join(d, cmd))) return join(d, cmd);
  return undefined;
}

/** Why the VM test cannot run here, or undefined. */
export function vmSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (namespaces, taps, loop devices)';
  if (!existsSync('/dev/net/tun')) return "no /dev/net/tun for the VMs' taps";
  const missing = Object.entries(VM_TOOLS).filter(([cmd]) => which(cmd) === undefined);
  if (missing.length > 0) return `missing ${missing.map(([c, p]) => `${c} (${p})`).join(', ')}: run bash netboot/deps.sh as root`;
  if (!existsSync(PXE_ROM)) return `missing ${PXE_ROM} (ipxe-qemu)`;
  return undefined;
}

// ------------------------------------------------------------------ cleanup

/** Undo steps, run last-in first-out; every step runs even when an earlier one fails. */
export class Cleanup {
  // Bounded by the test: a few dozen steps.
  private readonly steps: { name: string; fn: () => Promise<void> | void }[] = [];
  push(name: string, fn: () => Promise<void> | void): void {
    this.steps.push({ name, fn });
  }
  async run(): Promise<string[]> {
    const errors: string[] = [];
    while (this.steps.length > 0) {
      const s = this.steps.pop()!;
      try {
        await s.fn();
      } catch (e) {
        errors.push(`${s.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return errors;
  }
}

/** Runs a command to completion; throws with its stderr on a non-zero exit. */
export function sh(argv: readonly string[], opts: { input?: string | Buffer; timeoutMs?: number; okCodes?: number[] } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: opts.input, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
  const code = r.status ?? -1;
  if (r.error !== undefined || !(code === 0 || (opts.okCodes ?? []).includes(code))) {
    throw new Error(`${argv.join(' ')}: ${r.error?.message ?? `exit ${code}`}: ${r.stderr?.toString().trim().slice(-500)}`);
  }
  return r.stdout.toString();
}

// ------------------------------------------------------------------ processes

export interface Line {
  /** ms since the process started. */
  readonly tMs: number;
  readonly text: string;
}

/** A process with a hard deadline whose output is kept line by line with arrival times. */
export class BoundedProcess {
  readonly child: ChildProcess;
  // Bounded by the process's output: a VM console prints a few thousand lines.
  readonly lines: Line[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; wallMs: number }>;
  readonly startMs = performance.now();
  private waiters: { re: RegExp; resolve: (l: Line) => void }[] = [];
  private partial = '';
  private timedOut = false;

  constructor(
    readonly name: string,
    argv: readonly string[],
    timeoutMs: number,
    /** Also append every line here (a VM's console, kept for a look after a failure). */
    private readonly logFile?: string,
  ) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (b: Buffer): void => this.feed(b.toString('latin1'));
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    const timer = setTimeout(() => {
      this.timedOut = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => {
        this.feed(`[spawn error: ${e.message}]\n`);
      });
      this.child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (this.partial !== '') this.push(this.partial);
        this.partial = '';
        resolve({ code, signal, timedOut: this.timedOut, wallMs: performance.now() - this.startMs });
      });
    });
  }

  private feed(s: string): void {
    const parts = (this.partial + s).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.push(p);
  }

  private push(raw: string): void {
    // iPXE and the kernel write escape sequences; keep the text.
    const text = raw
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the terminal sequences removed here
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .replace(/[^\x20-\x7e]/g, '')
      .trimEnd();
    if (text === '') return;
    const line = { tMs: performance.now() - this.startMs, text };
    this.lines.push(line);
    if (this.logFile !== undefined) appendFileSync(this.logFile, `[${(line.tMs / 1000).toFixed(1).padStart(6)}] ${text}\n`);
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(text)) return true;
      w.resolve(line);
      return false;
    });
  }

  /** The first line matching `re` (already seen or still to come), or undefined if the process ends first. */
  async waitFor(re: RegExp): Promise<Line | undefined> {
    const seen = this.lines.find((l) => re.test(l.text));
    if (seen !== undefined) return seen;
    return Promise.race([new Promise<Line>((resolve) => this.waiters.push({ re, resolve })), this.exited.then(() => this.lines.find((l) => re.test(l.text)))]);
  }

  find(re: RegExp): Line | undefined {
    return this.lines.find((l) => re.test(l.text));
  }

  tail(n = 40): string {
    return this.lines
      .slice(-n)
      .map((l) => `  [${(l.tMs / 1000).toFixed(1).padStart(6)}] ${l.text}`)
      .join('\n');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

// ------------------------------------------------------------------ network

export class PxeNet {
  private constructor(
    readonly ns: string,
    readonly bridge: string,
  ) {}

  /** A namespace with a bridge at HOST_ADDR/24; its removal is registered with `cleanup`. */
  static create(tag: string, cleanup: Cleanup): PxeNet {
    const net = new PxeNet(`rcnb${tag}`, 'br0');
    sh(['ip', 'netns', 'add', net.ns]);
    cleanup.push(`ip netns del ${net.ns}`, () => void sh(['ip', 'netns', 'del', net.ns]));
    net.ip(['link', 'set', 'lo', 'up']);
    net.ip(['link', 'add', net.bridge, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0']);
    net.ip(['addr', 'add', `${HOST_ADDR}/24`, 'dev', net.bridge]);
    net.ip(['link', 'set', net.bridge, 'up']);
    // Multicast from the sender leaves through the bridge (no default route here).
    net.ip(['route', 'add', '224.0.0.0/4', 'dev', net.bridge]);
    return net;
  }

  ip(args: readonly string[]): string {
    return sh(['ip', '-n', this.ns, ...args]);
  }

  /** A tap on the bridge for one VM (it goes with the namespace). */
  addTap(name: string): void {
    this.ip(['tuntap', 'add', 'dev', name, 'mode', 'tap']);
    this.ip(['link', 'set', name, 'master', this.bridge]);
    this.ip(['link', 'set', name, 'up']);
  }

  argv(cmd: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.ns, ...cmd];
  }
}

export interface VmHost {
  readonly name: string;
  readonly mac: string;
  readonly ip: string;
  readonly tap: string;
  readonly disk: string;
}

export function dnsmasqArgv(opts: { tftpRoot: string; leaseFile: string; logFile: string; hosts: readonly VmHost[]; bridge: string }): string[] {
  return [
    'dnsmasq',
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    '--user=root',
    '--group=root',
    `--interface=${opts.bridge}`,
    '--bind-interfaces',
    `--dhcp-leasefile=${opts.leaseFile}`,
    `--log-facility=${opts.logFile}`,
    '--log-dhcp',
    `--dhcp-range=${NET_PREFIX}.100,${NET_PREFIX}.150,255.255.255.0,1h`,
    ...opts.hosts.map((h) => `--dhcp-host=${h.mac},${h.ip},${h.name}`),
    '--enable-tftp',
    `--tftp-root=${opts.tftpRoot}`,
    '--dhcp-match=set:ipxe,175',
    '--dhcp-boot=tag:!ipxe,undionly.kpxe',
    '--dhcp-boot=tag:ipxe,boot.ipxe',
  ];
}

/**
 * qemu: TCG, one vCPU, the virtio NIC with qemu's default iPXE ROM, the disk as a raw virtio
 * drive. -nographic makes SeaBIOS and iPXE print on the serial port too (qemu tells SeaBIOS
 * to), so the console shows the whole boot.
 */
export function qemuArgv(vm: VmHost, mode: { boot: 'net' } | { boot: 'disk' }): string[] {
  const net =
    mode.boot === 'net'
      ? ['-netdev', `tap,id=n0,ifname=${vm.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${vm.mac}`]
      : ['-nic', 'none'];
  // The ROM given as romfile= explicitly (pxe-virtio.rom) is not offered for -boot n here;
  // qemu's default for virtio-net-pci is.
  return [
    'qemu-system-x86_64',
    '-accel',
    'tcg',
    '-smp',
    '1',
    '-m',
    '1024',
    '-nographic',
    '-monitor',
    'none',
    '-no-reboot',
    '-boot',
    mode.boot === 'net' ? 'n' : 'c',
    ...net,
    '-drive',
    `file=${vm.disk},format=raw,if=virtio,cache=unsafe`,
  ];
}

// ------------------------------------------------------------------ disks

export interface Partition {
  readonly node: string;
  readonly startBytes: number;
  readonly sizeBytes: number;
  readonly type: string;
}

/** The partition table of a disk image, read by sfdisk from the file. */
export function partitions(image: string): Partition[] {
  const j = JSON.parse(sh(['sfdisk', '-J', image])) as {
    partitiontable: { sectorsize?: number; partitions: { node: string; start: number; size: number; type: string }[] };
  };
  const sector = j.partitiontable.sectorsize ?? 512;
  return j.partitiontable.partitions.map((p) => ({ node: p.node, startBytes: p.start * sector, sizeBytes: p.size * sector, type: p.type }));
}

/** Mounts one partition of `image` through a loop device by offset; undo is registered. */
export async function mountPartition(image: string, part: Partition, opts: { readOnly: boolean; cleanup: Cleanup }): Promise<string> {
  const dir = await mkdtemp(join(image + '-mnt-'));
  const loop = sh([
    'losetup',
    '-f',
    '--show',
    ...(opts.readOnly ? ['-r'] : []),
    '-o',
    String(part.startBytes),
    '--sizelimit',
    String(part.sizeBytes),
    image,
  ]).trim();
  opts.cleanup.push(`losetup -d ${loop}`, () => void sh(['losetup', '-d', loop]));
  sh(['mount', ...(opts.readOnly ? ['-o', 'ro'] : []), loop, dir]);
  opts.cleanup.push(`umount ${dir}`, () => void sh(['umount', dir]));
  return dir;
}

/** What a tree holds, path by path: type, mode, owner, and the content or link target. */
export async function treeSummary(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>(); // bounded by the test root (a few hundred entries)
  const walk = async (rel: string): Promise<void> => {
    const abs = join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, r));
      const own = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out.set(r, `link ${readlinkSync(join(root, r))}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${own}`);
        await walk(r);
      } else if (st.isFile()) {
        const h = createHash('sha256');
        for await (const c of createReadStream(join(root, r))) h.update(c as Buffer);
        out.set(r, `file ${own} ${st.size} ${h.digest('hex')}`);
      } else out.set(r, `other ${own}`);
    }
  };
  await walk('');
  return out;
}

/** Paths whose summaries differ between two trees (missing on either side included). */
export function treeDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.filter((p) => a.get(p) !== b.get(p));
}

export async function makeWorkDir(): Promise<string> {
  const dir = await mkdtemp('/tmp/rackcast-netboot-vm-');
  await mkdir(join(dir, 'tftp'), { recursive: true });
  return dir;
}
