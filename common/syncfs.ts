// Flush the whole file system holding a directory to stable storage (syncfs(2)), as the cpio
// unpacker does before it declares a tree complete. The native addon's syncfs when it loaded;
// otherwise `sync -f DIR`, which GNU coreutils and busybox both accept (`sync --file-system`
// is GNU-only: busybox rejects it, and a node's initramfs has busybox).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nativeSyncfs } from '../native/sys.js';
import { IoError, oneLine } from './errors.js';

const execFileP = promisify(execFile);

/** `sync -f DIR` through PATH (the fallback; exported for tests). */
export async function commandSyncfs(dir: string): Promise<void> {
  try {
    await execFileP('sync', ['-f', dir]);
  } catch (e) {
    throw new IoError('write', `cannot sync ${dir}: ${oneLine((e as { stderr?: string }).stderr || e)}`);
  }
}

export async function syncFileSystem(dir: string): Promise<void> {
  if (nativeSyncfs === undefined) return commandSyncfs(dir);
  try {
    await nativeSyncfs(dir);
  } catch (e) {
    throw new IoError('write', `cannot sync ${dir}: ${oneLine(e)}`);
  }
}
