// A bare node images itself, proven with VMs: rackcast-netboot builds the boot image, dnsmasq
// serves it over DHCP + TFTP in a namespace, two qemu VMs PXE-boot it at once and their clone
// agents take one node.cpio.gz from ONE udp-sender session. Then, from the host, each disk
// (through loop devices by offset) holds the source tree except the fixups, with its own
// host name and SSH host keys; each VM boots from its own disk and says who it is on the
// serial console; and a second clone over the same disks keeps what was written to /data.
// Needs root, /dev/net/tun and the tools netboot/deps.sh installs; skipped otherwise (one
// line says why). Every process is bounded, and namespaces, taps, mounts, loop devices and
// VMs are removed in afterAll, also when a step fails.

import { existsSync } from 'node:fs';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLabLock, type LabLock } from '../../bench/lab.js';
import { defaultCacheDir } from '../../netboot/args.js';
import type { Manifest } from '../../netboot/build.js';
import {
  BoundedProcess,
  Cleanup,
  dnsmasqArgv,
  HOST_ADDR,
  makeWorkDir,
  mountPartition,
  NET_PREFIX,
  type Partition,
  PxeNet,
  partitions,
  qemuArgv,
  sh,
  treeDiff,
  treeSummary,
  type VmHost,
  vmSkipReason,
} from './netboot-rig.js';
import { BOOTED_MARKER, makeTestRoot, packNodeImage, ROOT_LABEL } from './netboot-test-root.js';

const NETBOOT_CLI = fileURLToPath(new URL('../../dist/netboot/cli.js', import.meta.url));
const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
const AGENT_CLI = fileURLToPath(new URL('../../dist/clone/cli.js', import.meta.url));
const VM_PLAN = fileURLToPath(new URL('../fixtures/netboot/vm-plan.json', import.meta.url));
const DISK_BYTES = 2 * 1024 ** 3;
const BUILD_TIMEOUT_MS = 900_000;
/** Other lab runs (benches, namespace suites) may hold the lab lock for several minutes. */
const LOCK_WAIT_S = 1200;
const CLONE_TIMEOUT_MS = 600_000;
const DISK_BOOT_TIMEOUT_MS = 300_000;
const SENDER_GRACE_MS = 30_000;
/**
 * 60 s without progress before the sender drops a VM (the default, 200 rounds, is 5 s): an
 * emulated one-vCPU guest on a shared two-core host can stall that long, and a dropped VM
 * here would say nothing about netboot.
 */
const SENDER_RETRIES_UNTIL_DROP = 2400;
const DATA_FILE = 'kept-by-second-clone.txt';
/** udp-sender --clone-reports: the agents report right after their bootloader, seconds after the transfer. */
const SENDER_CLONE_REPORTS_S = 120;

/** Paths the clone may change (the agent's fixups) or add; everything else must match the source. */
const FIXUP_PATHS: readonly RegExp[] = [
  /^etc\/hostname$/,
  /^etc\/hosts$/,
  /^etc\/fstab$/,
  /^etc\/machine-id$/,
  /^etc\/ssh\/ssh_host_/,
  /^boot\/extlinux\//,
  /^var\/log\/rackcast-clone\.log$/,
  /^lost\+found$/,
];

const skipReason = vmSkipReason() ?? (existsSync(AGENT_CLI) ? undefined : `the clone agent is not built (${AGENT_CLI} missing)`);
if (skipReason !== undefined) console.log(`netboot-vm.test.ts: skipped: ${skipReason}`);

/** Seconds since qemu started at which the console first showed each milestone. */
interface CloneTimes {
  readonly kernel?: number; // iPXE handed over to the kernel (PXE boot done)
  readonly init?: number; // /init runs
  readonly agent?: number; // the clone agent's first line
  readonly join?: number; // the receiver heard the sender's session (joined)
  readonly started?: number; // the transfer started (all receivers joined)
  readonly verified?: number; // the image is received, unpacked (streamed) and verified
  readonly fixups?: number;
  readonly bootloader?: number;
  readonly finish?: number;
  readonly done?: number; // "rackcast-clone: done"
}

const MILESTONES: Readonly<Record<keyof CloneTimes, RegExp>> = {
  kernel: /Linux version/,
  init: /rackcast-init: .* booted/,
  agent: /^rackcast-clone: \[/,
  join: /receive: session from/,
  started: /receive: transfer started/,
  verified: /receive: verified sha256/,
  fixups: /\] fixups: /,
  bootloader: /\] bootloader: /,
  finish: /\] finish: |\] summary: /,
  done: /^rackcast-clone: done$/,
};

function cloneTimes(p: BoundedProcess): CloneTimes {
  const t: Record<string, number> = {};
  for (const [k, re] of Object.entries(MILESTONES)) {
    const l = p.find(re);
    if (l !== undefined) t[k] = Math.round(l.tMs / 100) / 10;
  }
  return t as CloneTimes;
}

function span(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined ? '-' : `${(b - a).toFixed(1)} s`;
}

/** One line per VM: the numbers the README's netboot section quotes. */
function formatTimes(vm: string, t: CloneTimes, qemuS: number): string {
  return (
    `${vm}: PXE to kernel ${span(0, t.kernel)}, boot to join ${span(0, t.join)} (init at ${t.init ?? '-'} s, agent at ${t.agent ?? '-'} s), ` +
    `wait for all to join ${span(t.join, t.started)}, transfer+unpack (streamed) ${span(t.started, t.verified)}, ` +
    `fixups ${span(t.fixups, t.bootloader)}, bootloader ${span(t.bootloader, t.finish)}, total to done ${span(0, t.done)}, qemu ${qemuS.toFixed(0)} s`
  );
}

describe.skipIf(skipReason !== undefined)('netboot: two VMs PXE-boot rackcast and clone one node image from one session', () => {
  const cleanup = new Cleanup();
  let lock: LabLock | undefined;
  let work = '';
  let net: PxeNet;
  let vms: VmHost[] = [];
  let manifest: Manifest;
  let sourceTree: Map<string, string>;
  let nodeImage = '';
  const t0 = performance.now();
  const report: string[] = [];

  beforeAll(
    async () => {
      work = await makeWorkDir();
      // RACKCAST_VM_KEEP=1 keeps the work directory (consoles, logs, disks) for a look afterwards.
      cleanup.push(`rm ${work}`, () =>
        process.env.RACKCAST_VM_KEEP === '1' ? console.log(`netboot-vm.test.ts: kept ${work}`) : rm(work, { recursive: true, force: true }),
      );

      // The plan the VMs run: the largest virtio disk, root + kept /data, fixups, extlinux, power off.
      const plan = VM_PLAN;
      const cacheDir = defaultCacheDir();
      const build = new BoundedProcess(
        'rackcast-netboot',
        [
          process.execPath,
          NETBOOT_CLI,
          '--out',
          join(work, 'tftp'),
          '--plan',
          plan,
          '--cache',
          cacheDir,
          '--cmdline',
          'console=ttyS0,115200n8 panic=-1',
          '--json',
          // RACKCAST_VM_COMPRESS=gzip makes a quicker build while working on this test; the default is the builder's.
          ...(process.env.RACKCAST_VM_COMPRESS !== undefined ? ['--compress', process.env.RACKCAST_VM_COMPRESS] : []),
        ],
        BUILD_TIMEOUT_MS,
      );
      const built = await build.exited;
      if (built.code !== 0) throw new Error(`rackcast-netboot exit ${built.code}:\n${build.tail()}`);
      manifest = JSON.parse(await readFile(join(work, 'tftp', 'manifest.json'), 'utf8')) as Manifest;
      report.push(
        `boot image: ${(manifest.initrd.compressedBytes / 1e6).toFixed(1)} MB ${manifest.initrd.compression} in ${(built.wallMs / 1000).toFixed(0)} s`,
      );

      const root = join(work, 'root');
      await makeTestRoot(root, { vmlinuz: join(work, 'tftp', 'vmlinuz'), cacheDir });
      sourceTree = await treeSummary(root);
      nodeImage = join(work, 'node.cpio.gz');
      packNodeImage(root, nodeImage);

      // The namespace and the VMs share the machine with other lab runs: one at a time (the
      // build above needs no lock).
      lock = await acquireLabLock({ waitSeconds: LOCK_WAIT_S });
      net = PxeNet.create(process.pid.toString(36), cleanup);
      vms = [1, 2].map((i) => ({
        name: `node0${i}`,
        mac: `52:54:00:7c:00:0${i}`,
        ip: `${NET_PREFIX}.10${i}`,
        tap: `tap${i}`,
        disk: join(work, `disk${i}.img`),
      }));
      for (const vm of vms) {
        net.addTap(vm.tap);
        await writeFile(vm.disk, '');
        await truncate(vm.disk, DISK_BYTES); // sparse
      }
      const dnsmasq = new BoundedProcess(
        'dnsmasq',
        net.argv(
          dnsmasqArgv({ tftpRoot: join(work, 'tftp'), leaseFile: join(work, 'leases'), logFile: join(work, 'dnsmasq.log'), hosts: vms, bridge: net.bridge }),
        ),
        3_600_000,
      );
      cleanup.push('stop dnsmasq', () => dnsmasq.kill());
    },
    BUILD_TIMEOUT_MS + LOCK_WAIT_S * 1000 + 300_000,
  );

  afterAll(async () => {
    const errors = await cleanup.run();
    await lock?.release();
    console.log(`netboot-vm.test.ts: ${report.join('\n  ')}\n  wall time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    expect(errors, 'cleanup').toEqual([]);
  }, 120_000);

  /** One clone round: the sender and both VMs at once; returns each VM's console. */
  async function cloneRound(round: number): Promise<BoundedProcess[]> {
    const sender = new BoundedProcess(
      'udp-sender',
      net.argv([
        process.execPath,
        SENDER_CLI,
        '--file',
        nodeImage,
        '--nokbd',
        '--min-receivers',
        String(vms.length),
        '--interface',
        HOST_ADDR,
        '--retries-until-drop',
        String(SENDER_RETRIES_UNTIL_DROP),
        '--json',
        '--log',
        join(work, `sender-${round}.log`),
        // Each agent reports its whole clone before it powers off; the sender waits for both.
        '--clone-reports',
        String(SENDER_CLONE_REPORTS_S),
      ]),
      CLONE_TIMEOUT_MS,
    );
    cleanup.push(`stop sender ${round}`, () => sender.kill());
    const consoles = vms.map((vm) => {
      const p = new BoundedProcess(
        `${vm.name} pxe ${round}`,
        net.argv(qemuArgv(vm, { boot: 'net' })),
        CLONE_TIMEOUT_MS,
        join(work, `console-${vm.name}-pxe-${round}.log`),
      );
      cleanup.push(`stop ${p.name}`, () => p.kill());
      // A VM whose clone failed sits in a shell (or powers off): do not wait for its deadline.
      void p.waitFor(/rackcast-clone: failed at|rackcast-init: .*starting a shell/).then((l) => l !== undefined && setTimeout(() => p.kill(), 5_000));
      return p;
    });
    const ended = await Promise.all(consoles.map((c) => c.exited));
    // The VMs are gone: the sender has nothing left to wait for (it would wait for joins forever).
    const senderDeadline = setTimeout(() => sender.kill(), SENDER_GRACE_MS);
    const s = await sender.exited;
    clearTimeout(senderDeadline);
    for (const [i, c] of consoles.entries()) report.push(`clone ${round} ${formatTimes(vms[i]!.name, cloneTimes(c), ended[i]!.wallMs / 1000)}`);
    // The sender's side too: a VM that never heard it is explained by what the sender said.
    const why = [
      ...consoles.map((c, i) => `${c.name}: exit ${ended[i]!.code}${ended[i]!.timedOut ? ' (timed out)' : ''}\n${c.tail(60)}`),
      `udp-sender (exit ${s.code ?? 'none'}):\n${sender.tail()}`,
    ].join('\n');
    for (const c of consoles) expect(c.find(/rackcast-clone: done/), why).toBeDefined();
    for (const e of ended) expect(e.timedOut, why).toBe(false);
    expect(s.code, why).toBe(0);
    const json = sender.lines.map((l) => l.text).find((t) => t.startsWith('{'));
    expect(json, 'the sender printed its JSON report').toBeDefined();
    const out = JSON.parse(json!) as {
      ok: boolean;
      seconds: number;
      receivers: { address: string; state: string; clone?: { host?: string; table?: string; fixups?: string; bootloader?: string } }[];
    };
    report.push(
      `clone ${round} sender: one session, ${out.seconds.toFixed(1)} s from start to end, process ${(s.wallMs / 1000).toFixed(0)} s (it starts before the VMs boot)`,
    );
    // ONE session served both VMs, and each verified its copy.
    expect(out.ok).toBe(true);
    // The address may carry a port: compare the IPv4 part.
    const ipv4 = (a: string): string => /\d+\.\d+\.\d+\.\d+/.exec(a)?.[0] ?? a;
    expect(out.receivers.map((r) => `${ipv4(r.address)} ${r.state}`).sort()).toEqual(vms.map((vm) => `${vm.ip} verified`));
    // The sender's table knows each node's whole clone (CLONE_REPORT): the first writes the
    // table, the second keeps it (and /data).
    const table = round === 1 ? 'written' : 'kept';
    expect(out.receivers.map((r) => `${ipv4(r.address)} ${r.clone?.host} ${r.clone?.table} ${r.clone?.fixups} ${r.clone?.bootloader}`).sort()).toEqual(
      vms.map((vm) => `${vm.ip} ${vm.name} ${table} ok extlinux`),
    );
    return consoles;
  }

  async function rootAndData(vm: VmHost): Promise<{ root: Map<string, string>; rootDir: string; dataDir: string; c: Cleanup }> {
    const c = new Cleanup();
    cleanup.push(`unmount ${vm.name}`, async () => void (await c.run()));
    const parts = partitions(vm.disk);
    const probe = (p: Partition, tag: string): string =>
      sh(['blkid', '-p', '-o', 'value', '-s', tag, '-O', String(p.startBytes), vm.disk], { okCodes: [2] }).trim();
    const labels = parts.map((p) => probe(p, 'LABEL'));
    const rootPart = parts[labels.indexOf(ROOT_LABEL)]!;
    const dataPart = parts[labels.indexOf('data')]!;
    expect(rootPart, `${vm.name}: partition labels ${labels.join(',')}`).toBeDefined();
    expect(dataPart, `${vm.name}: partition labels ${labels.join(',')}`).toBeDefined();
    const rootDir = await mountPartition(vm.disk, rootPart, { readOnly: false, cleanup: c });
    const dataDir = await mountPartition(vm.disk, dataPart, { readOnly: false, cleanup: c });
    return { root: await treeSummary(rootDir), rootDir, dataDir, c };
  }

  let cloned = false; // the later steps need the first clone: they fail at once without it
  const needClone = (): void => {
    if (!cloned) throw new Error('the first clone did not complete (see above)');
  };

  it(
    'clones both VMs from one multicast session',
    async () => {
      await cloneRound(1);
      cloned = true;
    },
    CLONE_TIMEOUT_MS + 60_000,
  );

  it('each disk holds the source tree except the fixups; host names and SSH host keys differ', async () => {
    needClone();
    const keys: string[] = [];
    for (const vm of vms) {
      const m = await rootAndData(vm);
      const bad = treeDiff(sourceTree, m.root).filter((p) => !FIXUP_PATHS.some((re) => re.test(p)));
      expect(bad, `${vm.name}: differs from the source outside the fixups`).toEqual([]);
      expect((await readFile(join(m.rootDir, 'etc/hostname'), 'utf8')).trim()).toBe(vm.name);
      const key = m.root.get('etc/ssh/ssh_host_ed25519_key');
      expect(key).toBeDefined();
      expect(key).not.toBe(sourceTree.get('etc/ssh/ssh_host_ed25519_key'));
      keys.push(key!);
      // Something for the second clone to keep.
      await writeFile(join(m.dataDir, DATA_FILE), `${vm.name} was here\n`);
      await m.c.run();
    }
    expect(keys[0]).not.toBe(keys[1]);
  }, 120_000);

  it(
    'each VM boots from its own disk and names itself on the serial console',
    async () => {
      needClone();
      const boots = vms.map((vm) => {
        const p = new BoundedProcess(`${vm.name} disk`, qemuArgv(vm, { boot: 'disk' }), DISK_BOOT_TIMEOUT_MS, join(work, `console-${vm.name}-disk.log`));
        cleanup.push(`stop ${p.name}`, () => p.kill());
        return p;
      });
      const ended = await Promise.all(boots.map((b) => b.exited));
      for (const [i, b] of boots.entries()) {
        const line = b.find(new RegExp(`${BOOTED_MARKER} host=`));
        report.push(
          `disk boot ${vms[i]!.name}: marker at ${line === undefined ? '-' : (line.tMs / 1000).toFixed(1)} s, qemu ${(ended[i]!.wallMs / 1000).toFixed(0)} s`,
        );
        expect(line?.text, `${vms[i]!.name}:\n${b.tail()}`).toMatch(new RegExp(`${BOOTED_MARKER} host=${vms[i]!.name} key=[0-9a-f]{16}`));
      }
    },
    DISK_BOOT_TIMEOUT_MS + 30_000,
  );

  it(
    'a second clone over the same disks keeps /data',
    async () => {
      needClone();
      await cloneRound(2);
      for (const vm of vms) {
        const m = await rootAndData(vm);
        expect(await readFile(join(m.dataDir, DATA_FILE), 'utf8')).toBe(`${vm.name} was here\n`);
        const bad = treeDiff(sourceTree, m.root).filter((p) => !FIXUP_PATHS.some((re) => re.test(p)));
        expect(bad, `${vm.name}: differs from the source outside the fixups`).toEqual([]);
        await m.c.run();
      }
    },
    CLONE_TIMEOUT_MS + 120_000,
  );
});
