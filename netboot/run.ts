// Runs the host tools the builder needs (ldd, modprobe, depmod, strip, apt-get, dpkg) and
// turns their failures into one line that names the tool and, when it is missing, the
// Debian package that brings it.

import { execFile } from 'node:child_process';

/** The Debian package of each host tool, for the message when it is missing. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  ldd: 'libc-bin',
  modprobe: 'kmod',
  depmod: 'kmod',
  strip: 'binutils',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  dpkg: 'dpkg',
  busybox: 'busybox-static',
  gzip: 'gzip',
  zstd: 'zstd',
  xz: 'xz-utils',
};

export class ToolError extends Error {
  readonly code = 'ERR_TOOL';
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Exit codes that are not a failure (ldd says 1 for a static binary). */
  readonly okCodes?: readonly number[];
}

export interface RunOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args`, resolving with its output; rejects with a ToolError on a failure. */
export function runTool(cmd: string, args: readonly string[], opt: RunOptions = {}): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      [...args],
      { cwd: opt.cwd, env: opt.env ?? process.env, timeout: opt.timeoutMs ?? 600_000, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          const pkg = PACKAGE_OF[cmd];
          reject(new ToolError(`${cmd} not found${pkg !== undefined ? ` (Debian package ${pkg}; netboot/deps.sh installs it)` : ''}`));
          return;
        }
        if (err !== null && !(opt.okCodes ?? []).includes(code)) {
          const why = err.killed ? `killed after ${opt.timeoutMs ?? 600_000} ms` : `exit ${code}`;
          const last = (stderr || stdout).trim().split('\n').slice(-3).join(' | ');
          reject(new ToolError(`${cmd} ${args.join(' ')}: ${why}${last !== '' ? `: ${last}` : ''}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}
