// Commands run inside the target root (chroot) get the host's /dev, /proc and /sys bound in
// for their duration: ssh-keygen opens /dev/null, grub-install reads /proc and /sys. They are
// unmounted afterwards, also when the command failed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Commands } from './exec.js';
import type { Step } from './steps.js';

export async function withChrootMounts<T>(step: Step, cmd: Commands, root: string, dirs: readonly string[], fn: () => Promise<T>): Promise<T> {
  const done: string[] = [];
  try {
    for (const d of dirs) {
      const target = join(root, d);
      if (!cmd.dryRun) mkdirSync(target, { recursive: true });
      await cmd.run(step, ['mount', '--bind', d, target]);
      done.push(target);
    }
    return await fn();
  } finally {
    for (const t of done.reverse()) await cmd.run(step, ['umount', t], { allowFail: true });
  }
}
