// rackcast-netboot's options: commander → parse → validate → frozen config (the flow of the
// other CLIs). Plans and the key file are read and checked in cli.ts, which does I/O.

import { homedir } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { UsageError } from '../common/errors.js';
import { COMPRESSIONS, type Compression } from './archive.js';
import type { KernelSource } from './kernel.js';
import { DEFAULT_CMDLINE } from './serve-files.js';

/**
 * xz -9 (2 threads, 32 MiB blocks): the smallest that meets the 32 MiB goal, with room for
 * more drivers, and in less CPU time than zstd -19 (README, "Netboot a rack", has the
 * measurements). zstd unpacks faster at boot (2.2 s against 8.0 s under qemu TCG, well under
 * a second either way on real hardware) but leaves less than 1 MiB of headroom; gzip -9
 * misses the goal.
 */
export const DEFAULT_COMPRESSION: Compression = 'xz';
const PLAN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MODULE_NAME = /^[A-Za-z0-9_-]+$/;

interface RawOptions {
  out?: string;
  plan: string[];
  keyFile?: string;
  compress: Compression;
  modules: string[];
  kernelDeb?: string;
  kernelDir?: string;
  kernelVersion?: string;
  kernelPackage?: string;
  cache?: string;
  cmdline: string;
  json?: boolean;
}

export interface NetbootArgs {
  readonly outDir: string;
  /** Plan files with the NAME each gets in the image (basename without extension). */
  readonly plans: readonly { readonly name: string; readonly file: string }[];
  readonly keyFile: string | undefined;
  readonly compression: Compression;
  readonly extraModules: readonly string[];
  readonly kernel: KernelSource;
  readonly cacheDir: string;
  readonly cmdline: string;
  readonly json: boolean;
}

function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'rackcast-netboot');
}

export function program(): Command {
  return new Command('rackcast-netboot')
    .description('Build the kernel + initramfs that PXE-boots a node into the rackcast clone agent, and the files to serve it.')
    .option('-o, --out <dir>', 'write vmlinuz, initrd.img, boot.ipxe, iPXE binaries, dnsmasq.conf.example and manifest.json here')
    .option('--plan <file>', 'a clone plan (JSON) to embed as /etc/rackcast/plans/NAME.json; repeatable; the first is also "default"', collect, [])
    .option('--key-file <file>', "the sender's pre-shared key (>= 16 bytes, mode 600), embedded as /etc/rackcast/key")
    .addOption(new Option('--compress <format>', 'initramfs compression').choices(COMPRESSIONS).default(DEFAULT_COMPRESSION))
    .option('--modules <list>', 'extra kernel modules for NICs or disks, comma-separated; repeatable', collect, [])
    .option('--kernel-deb <file>', "use this linux-image-*.deb instead of apt-get download of linux-image-amd64's")
    .option('--kernel-dir <dir>', 'use a tree with boot/vmlinuz-VERSION and lib/modules/VERSION (e.g. /)')
    .option('--kernel-version <v>', 'with --kernel-dir: which VERSION, when it has several')
    .option('--kernel-package <name>', 'the meta package apt resolves (default linux-image-amd64)')
    .option('--cache <dir>', 'where downloaded kernels are unpacked', defaultCacheDir())
    .option('--cmdline <args>', 'kernel parameters in boot.ipxe', DEFAULT_CMDLINE)
    .option('--json', 'print the manifest as JSON instead of a table')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
}

export function parseNetbootArgs(argv: readonly string[]): NetbootArgs {
  const cmd = program();
  cmd.parse(argv as string[], { from: 'user' });
  if (cmd.args.length > 0) throw new UsageError(`unexpected argument: ${cmd.args[0]}`);
  const o = cmd.opts<RawOptions>();
  if (o.out === undefined) throw new UsageError('--out DIR is required');
  if (o.plan.length === 0) throw new UsageError('at least one --plan FILE is required (the clone agent needs a plan)');
  const plans = o.plan.map((file) => ({ name: basename(file, extname(file)), file: resolve(file) }));
  for (const p of plans) {
    if (!PLAN_NAME.test(p.name)) throw new UsageError(`--plan ${p.file}: the name "${p.name}" must be letters, digits, . _ -`);
  }
  const dup = plans.find((p, i) => plans.findIndex((q) => q.name === p.name) !== i);
  if (dup !== undefined) throw new UsageError(`--plan: two plans are named "${dup.name}"`);
  const extraModules = o.modules
    .flatMap((m) => m.split(','))
    .map((m) => m.trim())
    .filter((m) => m !== '');
  for (const m of extraModules) if (!MODULE_NAME.test(m)) throw new UsageError(`--modules: bad module name "${m}"`);
  if (o.kernelDeb !== undefined && o.kernelDir !== undefined) throw new UsageError('--kernel-deb and --kernel-dir exclude each other');
  if (o.kernelVersion !== undefined && o.kernelDir === undefined) throw new UsageError('--kernel-version needs --kernel-dir');
  if (o.kernelPackage !== undefined && (o.kernelDeb !== undefined || o.kernelDir !== undefined)) {
    throw new UsageError('--kernel-package is for the apt download only');
  }
  const kernel: KernelSource =
    o.kernelDeb !== undefined
      ? { kind: 'deb', path: resolve(o.kernelDeb) }
      : o.kernelDir !== undefined
        ? { kind: 'dir', path: resolve(o.kernelDir), version: o.kernelVersion }
        : { kind: 'apt', packageName: o.kernelPackage };
  if (/['"\\\n]/.test(o.cmdline)) throw new UsageError('--cmdline: no quotes, backslashes or newlines');
  return Object.freeze({
    outDir: resolve(o.out),
    plans,
    keyFile: o.keyFile === undefined ? undefined : resolve(o.keyFile),
    compression: o.compress,
    extraModules,
    kernel,
    cacheDir: resolve(o.cache ?? defaultCacheDir()),
    cmdline: o.cmdline.trim(),
    json: o.json === true,
  });
}

/** SOURCE_DATE_EPOCH as the builds of Debian and others read it; 0 when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return 0;
  if (!/^[0-9]{1,10}$/.test(v) || Number(v) > 0xffff_ffff) throw new UsageError(`SOURCE_DATE_EPOCH=${v}: not a Unix time in seconds`);
  return Number(v);
}
