// Kernel modules for the image: the NIC and disk drivers of common servers and of qemu, the
// file systems the clone agent makes, and everything they need. modprobe --show-depends
// resolves hard dependencies AND softdeps (ext4 and xfs want crc32c only through a softdep,
// and busybox modprobe ignores softdeps: notes on the proof in the repository's DESIGN
// facts), so the image gets the closure; depmod -b then indexes exactly those modules.

import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { runTool, ToolError } from './run.js';

/** Loaded by /init through the PCI/virtio modalias walk (only for hardware that is there). */
export const HARDWARE_MODULES: readonly string[] = [
  'virtio_pci',
  'virtio_net',
  'virtio_blk',
  'virtio_scsi',
  'e1000',
  'e1000e',
  'igb',
  'ixgbe',
  'ahci',
  'nvme',
  'sd_mod',
];

/** Always loaded by /init, in order: file systems and the checksums they ask for. */
export const ALWAYS_MODULES: readonly string[] = ['crc32c_generic', 'crc32c-intel', 'libcrc32c', 'ext4', 'xfs', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8'];

export interface ModuleClosure {
  /** Module files relative to lib/modules/KVER, dependencies before dependents. */
  readonly files: readonly string[];
  /** Requested names built into this kernel (nothing to load). */
  readonly builtin: readonly string[];
}

/**
 * Parses `modprobe --show-depends` output: `insmod /ROOT/lib/modules/KVER/kernel/x.ko [opts]`
 * lines in load order, and `builtin NAME` for a module compiled in.
 */
export function parseShowDepends(output: string, modulesDir: string): { files: string[]; builtin: string[] } {
  const files: string[] = [];
  const builtin: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const ins = /^insmod\s+(\S+)/.exec(line);
    if (ins !== null) {
      const rel = relative(modulesDir, ins[1]!);
      if (rel.startsWith('..')) throw new ToolError(`modprobe named ${ins[1]}, outside ${modulesDir}`);
      files.push(rel);
      continue;
    }
    const b = /^builtin\s+(\S+)/.exec(line);
    if (b !== null) builtin.push(b[1]!);
  }
  return { files, builtin };
}

/** The closure of `names` in the kernel tree ROOT (with ROOT/lib/modules/KVER indexed by depmod). */
export async function resolveModules(root: string, kver: string, names: readonly string[]): Promise<ModuleClosure> {
  const modulesDir = join(root, 'lib', 'modules', kver);
  const files: string[] = [];
  const seen = new Set<string>(); // bounded by the kernel's modules (a few thousand)
  const builtin: string[] = [];
  for (const name of names) {
    let out;
    try {
      out = await runTool('modprobe', ['-d', root, '-S', kver, '--show-depends', name]);
    } catch (e) {
      throw new ToolError(`kernel module ${name} is not in ${modulesDir} (${e instanceof Error ? e.message : String(e)})`);
    }
    const r = parseShowDepends(out.stdout, modulesDir);
    for (const f of r.files) {
      if (!seen.has(f)) {
        seen.add(f);
        files.push(f);
      }
    }
    builtin.push(...r.builtin);
  }
  return { files, builtin: [...new Set(builtin)].sort() };
}

/** The module name of a file path (kernel/fs/ext4/ext4.ko -> ext4; dashes as modprobe keeps them). */
export function moduleName(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.ko(\.(xz|zst|gz))?$/, '');
}

/** The index files depmod writes that the image keeps (busybox modprobe reads the text ones). */
const KERNEL_LISTS = ['modules.order', 'modules.builtin', 'modules.builtin.modinfo'];

/**
 * Copies the closure into WORK/lib/modules/KVER and indexes it with depmod -b, so
 * modules.dep and modules.alias name exactly the modules the image has. Returns the files
 * under WORK/lib/modules/KVER, sorted, relative to it.
 */
export async function stageModules(root: string, kver: string, closure: ModuleClosure, work: string): Promise<string[]> {
  const from = join(root, 'lib', 'modules', kver);
  const to = join(work, 'lib', 'modules', kver);
  for (const f of closure.files) {
    await mkdir(dirname(join(to, f)), { recursive: true });
    await copyFile(join(from, f), join(to, f));
  }
  for (const f of KERNEL_LISTS) if (existsSync(join(from, f))) await copyFile(join(from, f), join(to, f));
  await runTool('depmod', ['-b', work, kver]);
  const out = await readdir(to, { recursive: true, withFileTypes: true });
  return out
    .filter((d) => d.isFile())
    .map((d) => relative(to, join(d.parentPath, d.name)))
    .sort();
}
