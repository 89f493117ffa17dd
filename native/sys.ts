// System calls Node lacks, from build/Release/rackcast_sys.node (native/sys.cc): syncfs(2).
// `nativeSyncfs` is undefined when the addon is not there; common/syncfs.ts then runs
// `sync -f`, which GNU coreutils and busybox both take.

import { loadAddon } from './load-addon.js';

interface SysAddon {
  syncfs(path: string, cb: (e: Error | null) => void): void;
}

function isSys(x: unknown): x is SysAddon {
  return typeof x === 'object' && x !== null && typeof (x as { syncfs?: unknown }).syncfs === 'function';
}

const load = loadAddon({ file: 'rackcast_sys.node', label: 'native sys addon', isAddon: isSys });

/** Why the native syncfs is missing (for logs), or undefined when it is there. */
export const nativeSysUnavailable: string | undefined = load.ok ? undefined : load.reason;

/** syncfs(2) on the file system holding `path`, off the event loop; undefined without the addon. */
export const nativeSyncfs: ((path: string) => Promise<void>) | undefined = load.ok
  ? (path) =>
      new Promise<void>((resolve, reject) => {
        load.addon.syncfs(path, (e) => (e ? reject(e) : resolve()));
      })
  : undefined;
