// rackcast-netboot end to end on this host: the image builds from the installed rackcast and
// Debian's packages; built twice from the same inputs (different temporary directories,
// a second apart) it is byte-identical; what it holds runs (node, the native addons and
// lz4-napi load with only the image's libraries, under chroot; the real disk tools start;
// /init parses); and bad input fails with one line and leaves no file behind.
// Needs the packages netboot/deps.sh installs and a built clone agent; root only for chroot.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../netboot/args.js';
import type { Manifest } from '../../netboot/build.js';
import { BoundedProcess } from './netboot-rig.js';

const NETBOOT_CLI = fileURLToPath(new URL('../../dist/netboot/cli.js', import.meta.url));
const AGENT_PLAN = fileURLToPath(new URL('../../dist/clone/plan.js', import.meta.url));
const BUILD_TIMEOUT_MS = 900_000;
const EPOCH = '1700000000';
const OUT_FILES = ['boot.ipxe', 'dnsmasq.conf.example', 'initrd.img', 'ipxe.efi', 'manifest.json', 'snponly.efi', 'undionly.kpxe', 'vmlinuz'];

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  for (const [cmd, pkg] of [
    ['/usr/bin/busybox', 'busybox-static'],
    ['/usr/bin/xz', 'xz-utils'],
    ['/usr/bin/cpio', 'cpio'],
    ['/usr/sbin/depmod', 'kmod'],
    ['/usr/bin/extlinux', 'extlinux'],
    ['/usr/lib/ipxe/undionly.kpxe', 'ipxe'],
    ['/usr/sbin/mkfs.xfs', 'xfsprogs'],
  ]) {
    if (!existsSync(cmd!)) return `missing ${cmd} (${pkg}): run bash netboot/deps.sh as root`;
  }
  if (!existsSync(AGENT_PLAN)) return `the clone agent is not built (${AGENT_PLAN} missing)`;
  return undefined;
}

const skip = skipReason();
if (skip !== undefined) console.log(`netboot-image.test.ts: skipped: ${skip}`);
const isRoot = process.getuid?.() === 0;

const VM_PLAN = fileURLToPath(new URL('../fixtures/netboot/vm-plan.json', import.meta.url));

async function build(work: string, out: string, planFile: string, extra: string[] = []): Promise<{ code: number | null; text: string; wallMs: number }> {
  const tmp = await mkdtemp(join(work, 'tmp-'));
  const p = new BoundedProcess(
    'rackcast-netboot',
    [
      'env',
      `SOURCE_DATE_EPOCH=${EPOCH}`,
      `TMPDIR=${tmp}`,
      process.execPath,
      NETBOOT_CLI,
      '--out',
      out,
      '--plan',
      planFile,
      '--cache',
      defaultCacheDir(),
      ...extra,
    ],
    BUILD_TIMEOUT_MS,
  );
  const r = await p.exited;
  return { code: r.code, text: p.lines.map((l) => l.text).join('\n'), wallMs: r.wallMs };
}

describe.skipIf(skip !== undefined)('rackcast-netboot builds a reproducible boot image that runs', () => {
  let work = '';
  let plan = '';
  let manifest: Manifest;
  let unpacked = '';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rackcast-netboot-image-'));
    plan = join(work, 'rack.json');
    await writeFile(plan, readFileSync(VM_PLAN));
  });

  afterAll(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it(
    'builds the image and the files to serve it, twice, byte-identical',
    async () => {
      const a = await build(work, join(work, 'a'), plan);
      expect(a.code, a.text).toBe(0);
      const b = await build(work, join(work, 'b'), plan);
      expect(b.code, b.text).toBe(0);
      expect(readdirSync(join(work, 'a')).sort()).toEqual(OUT_FILES);
      manifest = JSON.parse(readFileSync(join(work, 'a', 'manifest.json'), 'utf8')) as Manifest;
      const other = JSON.parse(readFileSync(join(work, 'b', 'manifest.json'), 'utf8')) as Manifest;
      console.log(
        `netboot-image.test.ts: ${manifest.initrd.compression} ${manifest.initrd.compressedBytes} bytes (raw ${manifest.initrd.rawBytes}), ` +
          `sha256 ${manifest.initrd.sha256} both times; builds ${(a.wallMs / 1000).toFixed(0)} s and ${(b.wallMs / 1000).toFixed(0)} s`,
      );
      expect(other.initrd.sha256).toBe(manifest.initrd.sha256);
      // Every file but the dnsmasq example, which names its own output directory (tftp-root=).
      const served = (m: Manifest) => m.files.filter((f) => f.name !== 'dnsmasq.conf.example');
      expect(served(other)).toEqual(served(manifest));
      expect(readFileSync(join(work, 'b', 'dnsmasq.conf.example'), 'utf8')).toContain(`tftp-root=${join(work, 'b')}\n`);
      const sha = spawnSync('sha256sum', [join(work, 'a', 'initrd.img'), join(work, 'b', 'initrd.img')]).stdout.toString();
      const [h1, h2] = sha
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]);
      expect(h1).toBe(manifest.initrd.sha256);
      expect(h2).toBe(h1);
      expect(manifest.initrd.compression).toBe('xz');
      expect(manifest.initrd.compressedBytes).toBeLessThanOrEqual(32 * 1024 * 1024); // the goal
      expect(manifest.sourceDateEpoch).toBe(Number(EPOCH));
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an iPXE setting, expanded by iPXE
      expect(readFileSync(join(work, 'a', 'boot.ipxe'), 'utf8')).toContain('BOOTIF=01-${net0/mac:hexhyp}');
    },
    2 * BUILD_TIMEOUT_MS,
  );

  it('holds node, the node-side rackcast, the tools, the modules with their softdeps, and nothing of the sender or the dev tools', async () => {
    unpacked = join(work, 'root');
    await mkdir(unpacked);
    const x = spawnSync('sh', ['-c', `xz -dc "${join(work, 'a', 'initrd.img')}" | cpio -i -d -m --quiet --no-absolute-filenames`], { cwd: unpacked });
    expect(x.status, x.stderr.toString()).toBe(0);
    const kver = manifest.kernel.version;
    for (const f of [
      'init',
      'usr/bin/node',
      'usr/bin/busybox',
      'usr/sbin/sfdisk',
      'usr/sbin/mkfs.xfs',
      'usr/sbin/e2fsck',
      'usr/bin/extlinux',
      'usr/lib/syslinux/mbr/gptmbr.bin',
      'etc/mke2fs.conf',
      'usr/lib/x86_64-linux-gnu/librt.so.1',
      'opt/rackcast/package.json',
      'opt/rackcast/dist/receiver/cli.js',
      'opt/rackcast/dist/clone/cli.js',
      'opt/rackcast/node_modules/pino/package.json',
      `usr/lib/modules/${kver}/modules.dep`,
      'etc/rackcast/plans/default.json',
      'etc/rackcast/plans/rack.json',
      'etc/rackcast/udhcpc.sh',
    ]) {
      expect(existsSync(join(unpacked, f)), f).toBe(true);
    }
    expect(
      spawnSync('readlink', [join(unpacked, 'usr/sbin/modprobe')])
        .stdout.toString()
        .trim(),
    ).toBe('/usr/bin/busybox');
    for (const f of ['opt/rackcast/dist/sender', 'opt/rackcast/dist/bench', 'opt/rackcast/node_modules/vitest', 'opt/rackcast/node_modules/typescript']) {
      expect(existsSync(join(unpacked, f)), f).toBe(false);
    }
    const all = spawnSync('find', [join(unpacked, 'opt/rackcast/dist'), '-name', '*.map'])
      .stdout.toString()
      .trim();
    expect(all).toBe('');
    const dep = readFileSync(join(unpacked, `usr/lib/modules/${kver}/modules.dep`), 'utf8');
    expect(dep).toMatch(/kernel\/fs\/ext4\/ext4\.ko: .*jbd2/);
    expect(dep).toMatch(/virtio_net\.ko:/);
    const always = readFileSync(join(unpacked, 'etc/rackcast/modules.always'), 'utf8').split('\n');
    // ext4's crc32c comes only through a softdep: it must be loaded before ext4.
    expect(always.findIndex((m) => m.startsWith('crc32c'))).toBeLessThan(always.indexOf('ext4'));
    expect(spawnSync('busybox', ['sh', '-n', join(unpacked, 'init')]).status).toBe(0);
  }, 120_000);

  it.skipIf(!isRoot)(
    'runs under chroot with only its own libraries: node, the addons, lz4-napi, the tools',
    () => {
      const run = (argv: string[]): string => {
        // The environment a booted node has (none of this host's NODE_* variables).
        const r = spawnSync('chroot', [unpacked, ...argv], { timeout: 60_000, env: { PATH: '/usr/sbin:/usr/bin', HOME: '/root' } });
        expect(r.status, `${argv.join(' ')}: ${r.stderr.toString()}`).toBe(0);
        return r.stdout.toString() + r.stderr.toString();
      };
      const probe = [
        "const rs = await import('/opt/rackcast/dist/native/rs-addon.js');",
        "const { createRequire } = await import('node:module');",
        "const { readdirSync } = await import('node:fs');",
        "const req = createRequire('/opt/rackcast/package.json');",
        "const lz4 = req('lz4-napi');",
        // Every addon of rackcast's own loads: each one's libraries (libzstd for the zstd one) are in the image.
        "const addons = readdirSync('/opt/rackcast/build/Release').filter((f) => f.endsWith('.node')).map((f) => [f, typeof req('/opt/rackcast/build/Release/' + f)]);",
        'console.log(JSON.stringify({ rs: rs.nativeRsStatus().loaded, lz4: typeof lz4.uncompressSync, addons }));',
      ].join(' ');
      const got = JSON.parse(run(['/usr/bin/node', '--input-type=module', '-e', probe]).trim().split('\n').pop()!) as {
        rs: boolean;
        lz4: string;
        addons: [string, string][];
      };
      expect({ rs: got.rs, lz4: got.lz4 }).toEqual({ rs: true, lz4: 'function' });
      const built = readdirSync(join(unpacked, 'opt/rackcast/build/Release'))
        .filter((f) => f.endsWith('.node'))
        .sort();
      expect(built).toEqual(expect.arrayContaining(['rackcast_rs.node', 'rackcast_udp.node']));
      expect(got.addons).toEqual(built.map((f) => [f, 'object']));
      expect(run(['/usr/sbin/sfdisk', '--version'])).toMatch(/sfdisk/);
      expect(run(['/usr/sbin/mkfs.ext4', '-V'])).toMatch(/mke2fs/);
      expect(run(['/usr/sbin/mkfs.xfs', '-V'])).toMatch(/mkfs.xfs/);
      expect(run(['/usr/bin/extlinux', '--version'])).toMatch(/extlinux/);
      expect(run(['/usr/sbin/blkid', '-V'])).toMatch(/blkid/);
    },
    120_000,
  );

  it('refuses a plan the agent refuses, and a missing kernel package, leaving no file', async () => {
    const bad = join(work, 'bad.json');
    await writeFile(bad, '{"version": 1, "no": "such plan"}\n');
    const out = join(work, 'refused');
    const r = await build(work, out, bad);
    expect(r.code, r.text).toBe(2);
    expect(r.text.trim().split('\n')).toHaveLength(1);
    expect(r.text).toMatch(/--plan .*bad\.json: /);
    expect(existsSync(out)).toBe(false);
    const r2 = await build(work, out, plan, ['--kernel-deb', join(work, 'no-such.deb')]);
    expect(r2.code, r2.text).toBe(3);
    expect(r2.text).toMatch(/no-such\.deb/);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  }, 120_000);
});
