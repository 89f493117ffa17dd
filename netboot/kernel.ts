// The kernel the image boots: Debian's linux-image-*-amd64 (the package linux-image-amd64
// points at), fetched with apt-get download and unpacked with dpkg -x into a cache, never
// installed on the build host; or a .deb the admin gives (--kernel-deb), or a tree that
// already holds boot/vmlinuz-KVER and lib/modules/KVER (--kernel-dir, e.g. / for the host's
// own kernel). Debian's package ships no modules.dep: the cache runs depmod once.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool, ToolError } from './run.js';

export type KernelSource =
  | { readonly kind: 'apt'; readonly packageName?: string }
  | { readonly kind: 'deb'; readonly path: string }
  | { readonly kind: 'dir'; readonly path: string; readonly version?: string };

export interface Kernel {
  /** e.g. 6.1.0-57-amd64 */
  readonly version: string;
  /** A tree with boot/vmlinuz-VERSION and lib/modules/VERSION (indexed by depmod). */
  readonly root: string;
  readonly vmlinuz: string;
  /** Where it came from, for the manifest: "linux-image-6.1.0-57-amd64 6.1.192-3". */
  readonly origin: string;
}

const COMPLETE_MARK = '.rackcast-complete';

/**
 * The versioned image package a meta package depends on, from `apt-cache show` of the
 * candidate: "Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)".
 */
export function parseMetaDepends(showOutput: string): { name: string; version: string } | undefined {
  const dep = /^Depends:\s*(.*)$/m.exec(showOutput);
  if (dep === null) return undefined;
  for (const alt of dep[1]!.split(/[,|]/)) {
    const m = /^\s*(linux-image-[0-9][^\s(]*)\s*(?:\(=\s*([^)\s]+)\s*\))?/.exec(alt);
    if (m !== null) return { name: m[1]!, version: m[2] ?? '' };
  }
  return undefined;
}

/** The one VERSION with both boot/vmlinuz-VERSION and lib/modules/VERSION under root. */
async function kernelVersionIn(root: string, wanted: string | undefined): Promise<string> {
  const boot = existsSync(join(root, 'boot')) ? await readdir(join(root, 'boot')) : [];
  const versions = boot
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join(root, 'lib', 'modules', v)))
    .sort();
  if (wanted !== undefined) {
    if (!versions.includes(wanted)) throw new ToolError(`${root} has no boot/vmlinuz-${wanted} with lib/modules/${wanted}`);
    return wanted;
  }
  if (versions.length === 0) throw new ToolError(`${root} has no boot/vmlinuz-VERSION with lib/modules/VERSION`);
  if (versions.length > 1) throw new ToolError(`${root} has several kernels (${versions.join(', ')}): choose one with --kernel-version`);
  return versions[0]!;
}

async function ensureDepmod(root: string, version: string): Promise<void> {
  if (!existsSync(join(root, 'lib', 'modules', version, 'modules.dep'))) await runTool('depmod', ['-b', root, version]);
}

/** Unpacks a .deb into cache/KEY once (atomically: a half-unpacked tree never looks done). */
async function unpackDeb(deb: string, cacheDir: string, key: string): Promise<string> {
  const dest = join(cacheDir, key);
  if (existsSync(join(dest, COMPLETE_MARK))) return dest;
  await mkdir(cacheDir, { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, `.${key}.partial-`));
  try {
    await runTool('dpkg', ['-x', deb, tmp]);
    const version = await kernelVersionIn(tmp, undefined);
    await ensureDepmod(tmp, version);
    await writeFile(join(tmp, COMPLETE_MARK), `${key}\n`);
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return dest;
}

export async function resolveKernel(src: KernelSource, cacheDir: string): Promise<Kernel> {
  if (src.kind === 'dir') {
    const version = await kernelVersionIn(src.path, src.version);
    await ensureDepmod(src.path, version);
    return { version, root: src.path, vmlinuz: join(src.path, 'boot', `vmlinuz-${version}`), origin: `${src.path} (${version})` };
  }
  if (src.kind === 'deb') {
    if (!existsSync(src.path)) throw new ToolError(`--kernel-deb ${src.path}: no such file`);
    const f = await runTool('dpkg-deb', ['-f', src.path, 'Package', 'Version']);
    const name = /^Package:\s*(\S+)/m.exec(f.stdout)?.[1];
    const ver = /^Version:\s*(\S+)/m.exec(f.stdout)?.[1];
    if (name === undefined || ver === undefined) throw new ToolError(`${src.path} is not a Debian package`);
    const root = await unpackDeb(src.path, cacheDir, `${name}_${ver}`);
    const version = await kernelVersionIn(root, undefined);
    return { version, root, vmlinuz: join(root, 'boot', `vmlinuz-${version}`), origin: `${name} ${ver}` };
  }
  const meta = src.packageName ?? 'linux-image-amd64';
  const show = await runTool('apt-cache', ['show', '--no-all-versions', meta]).catch((e: unknown) => {
    throw new ToolError(`apt-cache show ${meta} failed (run apt-get update first?): ${e instanceof Error ? e.message : String(e)}`);
  });
  const dep = parseMetaDepends(show.stdout);
  if (dep === undefined) throw new ToolError(`apt-cache show ${meta} names no linux-image-VERSION package`);
  const key = `${dep.name}_${dep.version}`;
  const cached = join(cacheDir, key);
  if (!existsSync(join(cached, COMPLETE_MARK))) {
    await mkdir(cacheDir, { recursive: true });
    const dl = await mkdtemp(join(cacheDir, '.download-'));
    try {
      const spec = dep.version !== '' ? `${dep.name}=${dep.version}` : dep.name;
      await runTool('apt-get', ['download', '-q', spec], { cwd: dl, timeoutMs: 900_000 });
      const debs = (await readdir(dl)).filter((f) => f.endsWith('.deb'));
      if (debs.length !== 1) throw new ToolError(`apt-get download ${spec} left ${debs.length} .deb files`);
      await unpackDeb(join(dl, debs[0]!), cacheDir, key);
    } finally {
      await rm(dl, { recursive: true, force: true });
    }
  }
  const version = await kernelVersionIn(cached, undefined);
  return { version, root: cached, vmlinuz: join(cached, 'boot', `vmlinuz-${version}`), origin: `${dep.name} ${dep.version}` };
}
