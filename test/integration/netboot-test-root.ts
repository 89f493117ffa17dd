// The node image the VM test clones: a small root that boots from its own disk. Debian's
// kernel at /boot/vmlinuz; /boot/initrd.img (busybox-static, virtio and ext4 modules) finds
// root=LABEL=... and switch_roots into it; the root's /sbin/init (a busybox sh script)
// prints RACKCAST-CLONE-BOOTED with the host name from the root's own /etc/hostname and the
// fingerprint of its SSH host key, then powers off. The root also carries ssh-keygen and
// its libraries (the clone agent's fixups run `ssh-keygen -A` inside it) and template host
// keys, so the test can see that each clone got its own. It is packed the way the README
// says an admin packs a node: find | cpio -o --format=crc | gzip.

import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeImage } from '../../netboot/archive.js';
import { resolveKernel } from '../../netboot/kernel.js';
import { sharedLibraries } from '../../netboot/ldd.js';
import { moduleName, resolveModules, stageModules } from '../../netboot/modules.js';
import { ImageTree, imagePath } from '../../netboot/tree.js';
import { sh } from './netboot-rig.js';

export const ROOT_LABEL = 'root';
export const BOOTED_MARKER = 'RACKCAST-CLONE-BOOTED';
const BOOT_MODULES = ['virtio_pci', 'virtio_blk', 'ext4'];

const ROOT_INIT = `#!/bin/sh
# The cloned node's own init: says who it is, then powers off.
export PATH=/usr/sbin:/usr/bin
mount -t proc proc /proc
hostname "$(cat /etc/hostname)"
key=$(sha256sum /etc/ssh/ssh_host_ed25519_key.pub | cut -c1-16)
echo "${BOOTED_MARKER} host=$(hostname) key=$key"
sync
poweroff -f
`;

const INITRD_INIT = `#!/bin/sh
# Boot check initramfs: mount the root named by root=LABEL=... and run its /sbin/init.
export PATH=/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do modprobe -q "$m"; done < /modules
root=
for a in $(cat /proc/cmdline); do case "$a" in root=*) root=\${a#root=} ;; esac; done
i=0
dev=
while [ -z "$dev" ] && [ $i -lt 100 ]; do dev=$(findfs "$root" 2>/dev/null); [ -z "$dev" ] && sleep 0.2; i=$((i + 1)); done
mkdir -p /newroot
if [ -z "$dev" ] || ! mount -o ro "$dev" /newroot; then echo "boot-check: cannot mount $root"; poweroff -f; fi
umount /proc /sys
exec switch_root /newroot /sbin/init
`;

export interface TestRoot {
  readonly dir: string;
  readonly files: number;
}

/** Makes the root under `dir` with the kernel in `vmlinuz` and modules from the builder's cache. */
export async function makeTestRoot(dir: string, opts: { vmlinuz: string; cacheDir: string }): Promise<void> {
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'etc/ssh', 'boot/extlinux', 'proc', 'sys', 'dev', 'tmp', 'root', 'data', 'var/log']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) await symlink(`usr/${d}`, join(dir, d));
  await copyFile('/bin/busybox', join(dir, 'usr/bin/busybox'));
  for (const a of ['sh', 'cat', 'cut', 'mount', 'hostname', 'sha256sum', 'sync', 'poweroff']) await symlink('busybox', join(dir, 'usr/bin', a));
  await writeFile(join(dir, 'sbin/init'), ROOT_INIT, { mode: 0o755 });
  await chmod(join(dir, 'sbin/init'), 0o755);

  // ssh-keygen with its libraries, and template host keys.
  await copyFile('/usr/bin/ssh-keygen', join(dir, 'usr/bin/ssh-keygen'));
  for (const lib of await sharedLibraries(['/usr/bin/ssh-keygen'])) {
    const at = join(dir, imagePath(lib));
    await mkdir(dirname(at), { recursive: true });
    await copyFile(lib, at);
  }
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(dir, 'etc/hostname'), 'template\n');
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n');
  sh(['ssh-keygen', '-A', '-f', dir]);

  // Kernel, boot-check initramfs, extlinux configuration.
  await copyFile(opts.vmlinuz, join(dir, 'boot/vmlinuz'));
  const kernel = await resolveKernel({ kind: 'apt' }, opts.cacheDir);
  const closure = await resolveModules(kernel.root, kernel.version, BOOT_MODULES);
  const work = join(dir, '..', 'boot-check-modules');
  const staged = await stageModules(kernel.root, kernel.version, closure, work);
  const tree = new ImageTree();
  tree.addFile('usr/bin/busybox', '/bin/busybox', { part: 'busybox', mode: 0o755 });
  for (const a of ['sh', 'mount', 'umount', 'modprobe', 'findfs', 'mkdir', 'sleep', 'cat', 'poweroff', 'switch_root']) {
    tree.addSymlink(`usr/bin/${a}`, 'busybox', { part: 'busybox' });
  }
  for (const f of staged)
    tree.addFile(`usr/lib/modules/${kernel.version}/${f}`, join(work, 'lib/modules', kernel.version, f), { part: 'modules', mode: 0o644 });
  tree.addData('modules', closure.files.map((f) => `${moduleName(f)}\n`).join(''), { part: 'init' });
  tree.addData('init', INITRD_INIT, { part: 'init', mode: 0o755 });
  for (const d of ['proc', 'sys', 'dev']) tree.addDir(d);
  await writeImage(tree, { path: join(dir, 'boot/initrd.img'), mtimeSec: 0, compression: 'gzip' });
  await writeFile(
    join(dir, 'boot/extlinux/extlinux.conf'),
    [
      'DEFAULT node',
      'PROMPT 0',
      'TIMEOUT 1',
      'LABEL node',
      '  KERNEL /boot/vmlinuz',
      '  INITRD /boot/initrd.img',
      `  APPEND root=LABEL=${ROOT_LABEL} console=ttyS0,115200n8 panic=-1`,
      '',
    ].join('\n'),
  );
}

/** GNU cpio -o --format=crc of the tree, gzipped: the node.cpio.gz the sender streams. */
export function packNodeImage(rootDir: string, out: string): void {
  sh(['sh', '-c', `cd "${rootDir}" && find . -mindepth 1 | LC_ALL=C sort | cpio -o --quiet --format=crc | gzip -n -6 > "${out}"`], { timeoutMs: 120_000 });
}
