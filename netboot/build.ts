// The boot-image builder: from the installed rackcast, the build host's Debian packages and a
// Debian kernel, makes vmlinuz + initrd.img and the files a TFTP/HTTP server hands out. The
// composer: it knows every part (tree.ts, kernel.ts, modules.ts, ldd.ts, tools.ts,
// node-side.ts, archive.ts, serve-files.ts) and each part knows none of the others.
//
// Output files are written as .NAME.partial in the output directory and renamed into place
// only when all of them are complete, the manifest last: a failed build leaves the
// directory as it was (an old, complete image stays usable), never a half-written image.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { type ArchiveResult, type Compression, writeImage } from './archive.js';
import { type Kernel, type KernelSource, resolveKernel } from './kernel.js';
import { sharedLibraries } from './ldd.js';
import { ALWAYS_MODULES, HARDWARE_MODULES, moduleName, resolveModules, stageModules } from './modules.js';
import { IMAGE_APP_DIR, imagePackageJson, productionModules, rackcastRuntime } from './node-side.js';
import { runTool, ToolError } from './run.js';
import { bootIpxe, dnsmasqExample, IPXE_BINARIES } from './serve-files.js';
import { findTool, OPTIONAL_TOOLS, REQUIRED_TOOLS, TOOL_DATA, TOOL_PACKAGE } from './tools.js';
import { entryBytes, ImageTree, imagePath, type Part } from './tree.js';

export interface PlanInput {
  /** NAME in /etc/rackcast/plans/NAME.json. */
  readonly name: string;
  /** The plan file's text, already validated by the agent's validator. */
  readonly text: string;
  readonly source: string;
}

export interface BuildConfig {
  readonly outDir: string;
  /** The installed rackcast (package.json, dist/, node_modules, build/Release). */
  readonly pkgRoot: string;
  readonly plans: readonly PlanInput[];
  /** Embedded at /etc/rackcast/key (mode 600). */
  readonly keyFile?: string;
  readonly compression: Compression;
  readonly extraModules: readonly string[];
  readonly kernel: KernelSource;
  readonly cacheDir: string;
  /** Kernel parameters boot.ipxe passes (besides initrd= and BOOTIF=). */
  readonly cmdline: string;
  /** mtime of every entry (SOURCE_DATE_EPOCH). */
  readonly mtimeSec: number;
  /** The node binary to strip and ship (default: the one running the builder). */
  readonly nodeBinary: string;
  /** busybox to ship (default: the host's, from busybox-static). */
  readonly busyboxPath?: string;
}

export const KEY_IMAGE_PATH = 'etc/rackcast/key';
export const PLANS_IMAGE_DIR = 'etc/rackcast/plans';

export interface ManifestFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface Manifest {
  readonly kernel: { readonly version: string; readonly origin: string };
  readonly initrd: ArchiveResult & { readonly compression: Compression; readonly writeMs: number };
  /** Unpacked bytes by part of the image. */
  readonly parts: Readonly<Record<Part, number>>;
  /** The biggest entries of the image. */
  readonly top: readonly { readonly path: string; readonly bytes: number; readonly part: Part }[];
  readonly modules: readonly string[];
  readonly builtinModules: readonly string[];
  readonly plans: readonly string[];
  readonly keyEmbedded: boolean;
  readonly sourceDateEpoch: number;
  readonly files: readonly ManifestFile[];
  readonly buildMs: number;
}

const TOP_ENTRIES = 15;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Adds a host ELF file and nothing else; libraries are added once for all ELF files. */
function addHostFile(tree: ImageTree, hostPath: string, part: Part, opt: { replace?: boolean; source?: string } = {}): void {
  tree.addFile(imagePath(hostPath), opt.source ?? hostPath, { part, replace: opt.replace });
}

/** busybox-static at /usr/bin/busybox, and a link for every applet at its usual path. */
async function addBusybox(tree: ImageTree, busybox: string): Promise<void> {
  tree.addFile('usr/bin/busybox', busybox, { part: 'busybox', mode: 0o755 });
  const list = await runTool(busybox, ['--list-full']);
  for (const applet of list.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .sort()) {
    const at = imagePath(`/${applet}`);
    if (at === 'usr/bin/busybox') continue;
    tree.addSymlink(at, '/usr/bin/busybox', { part: 'busybox', replace: true });
  }
  // The kernel's request_module runs /sbin/modprobe (busybox --list-full names it so, but
  // the image must have it whatever the applet list says).
  tree.addSymlink('usr/sbin/modprobe', '/usr/bin/busybox', { part: 'busybox', replace: true });
}

function etcFiles(tree: ImageTree): void {
  tree.addData('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n', { part: 'init' });
  tree.addData('etc/group', 'root:x:0:\n', { part: 'init' });
  tree.addData('etc/hosts', '127.0.0.1\tlocalhost\n', { part: 'init' });
  tree.addData('etc/profile', 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1="rackcast:\\w# "\n', { part: 'init' });
  tree.addDir('root', 0o700);
  for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'mnt', 'var/log']) tree.addDir(d);
}

export type BuildProgress = (line: string) => void;

export async function buildImage(cfg: Readonly<BuildConfig>, progress: BuildProgress = () => {}): Promise<Manifest> {
  const t0 = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'rackcast-netboot-'));
  const partials: string[] = [];
  try {
    const tree = new ImageTree();
    etcFiles(tree);

    progress(`kernel: resolving (${cfg.kernel.kind})`);
    const kernel: Kernel = await resolveKernel(cfg.kernel, cfg.cacheDir);
    progress(`kernel: ${kernel.version} from ${kernel.origin}`);

    // Modules: the closure of everything /init may load, indexed for the image alone.
    const always = [...ALWAYS_MODULES];
    const hardware = [...HARDWARE_MODULES, ...cfg.extraModules];
    const closure = await resolveModules(kernel.root, kernel.version, [...always, ...hardware]);
    const alwaysClosure = await resolveModules(kernel.root, kernel.version, always);
    const modRoot = join(work, 'modules');
    const staged = await stageModules(kernel.root, kernel.version, closure, modRoot);
    for (const f of staged) {
      tree.addFile(`usr/lib/modules/${kernel.version}/${f}`, join(modRoot, 'lib', 'modules', kernel.version, f), { part: 'modules', mode: 0o644 });
    }
    tree.addData('etc/rackcast/modules.always', alwaysClosure.files.map((f) => `${moduleName(f)}\n`).join(''), { part: 'init' });
    tree.addData('etc/rackcast/modules.hardware', hardware.map((m) => `${m}\n`).join(''), { part: 'init' });
    progress(`modules: ${closure.files.length} (${closure.builtin.length} built in)`);

    // busybox, node, the real tools, their libraries.
    const busybox = cfg.busyboxPath ?? findTool('busybox')?.real;
    if (busybox === undefined) throw new ToolError('busybox not found (Debian package busybox-static)');
    await addBusybox(tree, busybox);
    const elves: string[] = [busybox];

    const strippedNode = join(work, 'node');
    await runTool('strip', ['--strip-all', '-o', strippedNode, cfg.nodeBinary]);
    tree.addFile('usr/bin/node', strippedNode, { part: 'node', mode: 0o755 });
    elves.push(cfg.nodeBinary);

    for (const name of [...REQUIRED_TOOLS, ...OPTIONAL_TOOLS]) {
      const t = findTool(name);
      if (t === undefined) {
        if (OPTIONAL_TOOLS.includes(name)) continue;
        throw new ToolError(`${name} not found on this host (Debian package ${TOOL_PACKAGE[name] ?? '?'}; netboot/deps.sh installs it)`);
      }
      if (t.link !== undefined) {
        const target = join(dirname(t.path), t.link);
        addHostFile(tree, target, 'tools', { replace: true, source: t.real });
        tree.addSymlink(imagePath(t.path), t.link, { part: 'tools', replace: true });
      } else {
        addHostFile(tree, t.path, 'tools', { replace: true, source: t.real });
      }
      elves.push(t.real);
    }
    for (const f of TOOL_DATA) {
      if (!existsSync(f)) throw new ToolError(`${f} not found on this host (Debian package ${TOOL_PACKAGE[f] ?? '?'})`);
      addHostFile(tree, f, 'tools');
    }

    // rackcast: runtime layers, native addons, production dependencies.
    const app = [...(await rackcastRuntime(cfg.pkgRoot)), ...(await productionModules(cfg.pkgRoot))];
    for (const f of app) {
      if (f.link !== undefined) tree.addSymlink(f.image, f.link, { part: 'rackcast' });
      else tree.addFile(f.image, f.source, { part: 'rackcast' });
      if (f.link === undefined && f.source.endsWith('.node')) elves.push(f.source);
    }
    tree.addData(`${IMAGE_APP_DIR}/package.json`, imagePackageJson(cfg.pkgRoot), { part: 'rackcast' });
    if (!tree.has(`${IMAGE_APP_DIR}/dist/clone/cli.js`)) throw new ToolError(`${cfg.pkgRoot}/dist/clone/cli.js is missing: this rackcast has no clone agent`);

    const libs = await sharedLibraries(elves);
    for (const lib of libs) addHostFile(tree, lib, 'libs', { replace: false });
    progress(`libraries: ${libs.length} (${libs.map((l) => basename(l)).join(' ')})`);

    // /init, the DHCP script, plans, key.
    const here = join(cfg.pkgRoot, 'netboot');
    tree.addData('init', await readFile(join(here, 'init.sh')), { part: 'init', mode: 0o755 });
    tree.addData('etc/rackcast/udhcpc.sh', await readFile(join(here, 'udhcpc.sh')), { part: 'init', mode: 0o755 });
    for (const [i, p] of cfg.plans.entries()) {
      tree.addData(`${PLANS_IMAGE_DIR}/${p.name}.json`, p.text, { part: 'init' });
      if (i === 0 && p.name !== 'default') tree.addData(`${PLANS_IMAGE_DIR}/default.json`, p.text, { part: 'init' });
    }
    if (cfg.keyFile !== undefined) tree.addData(KEY_IMAGE_PATH, await readFile(cfg.keyFile), { part: 'init', mode: 0o600 });

    // Write everything as partials, then rename.
    await mkdir(cfg.outDir, { recursive: true });
    const partial = (name: string): string => {
      const p = join(cfg.outDir, `.${name}.partial`);
      partials.push(p);
      return p;
    };
    progress(`initramfs: writing (${cfg.compression})`);
    const tw = performance.now();
    const initrd = await writeImage(tree, { path: partial('initrd.img'), mtimeSec: cfg.mtimeSec, compression: cfg.compression });
    const writeMs = Math.round(performance.now() - tw);
    await copyFile(kernel.vmlinuz, partial('vmlinuz'));
    await writeFile(partial('boot.ipxe'), bootIpxe({ cmdline: cfg.cmdline }));
    await writeFile(partial('dnsmasq.conf.example'), dnsmasqExample({ tftpRoot: cfg.outDir }));
    for (const b of IPXE_BINARIES) {
      if (!existsSync(b.source)) throw new ToolError(`${b.source} not found (Debian package ipxe; netboot/deps.sh installs it)`);
      await copyFile(b.source, partial(b.name));
    }
    const names = ['vmlinuz', 'initrd.img', 'boot.ipxe', 'dnsmasq.conf.example', ...IPXE_BINARIES.map((b) => b.name)];
    const files: ManifestFile[] = [];
    for (const n of names) {
      const p = join(cfg.outDir, `.${n}.partial`);
      files.push({ name: n, bytes: (await stat(p)).size, sha256: n === 'initrd.img' ? initrd.sha256 : await sha256File(p) });
    }

    const parts = { node: 0, libs: 0, rackcast: 0, modules: 0, tools: 0, busybox: 0, init: 0 } as Record<Part, number>;
    const sized: { path: string; bytes: number; part: Part }[] = [];
    for (const [path, e] of tree.sorted()) {
      if (e.kind === 'dir') continue;
      parts[e.part] += entryBytes(e);
      sized.push({ path: `/${path}`, bytes: entryBytes(e), part: e.part });
    }
    sized.sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1));

    const manifest: Manifest = {
      kernel: { version: kernel.version, origin: kernel.origin },
      initrd: { ...initrd, compression: cfg.compression, writeMs },
      parts,
      top: sized.slice(0, TOP_ENTRIES),
      modules: closure.files.map(moduleName),
      builtinModules: closure.builtin,
      plans: cfg.plans.map((p) => p.name),
      keyEmbedded: cfg.keyFile !== undefined,
      sourceDateEpoch: cfg.mtimeSec,
      files,
      buildMs: Math.round(performance.now() - t0),
    };
    await writeFile(partial('manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const n of [...names, 'manifest.json']) await rename(join(cfg.outDir, `.${n}.partial`), join(cfg.outDir, n));
    partials.length = 0;
    return manifest;
  } finally {
    for (const p of partials) await rm(p, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}
