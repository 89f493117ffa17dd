// Runs the agent's commands. Every command is logged before it runs. With --dry-run only
// commands marked read-only run (sfdisk -d, blkid, e2fsck -n, losetup -r); the others are
// printed as "would run: ..." and not run, so a dry run touches nothing.
//
// Tools are called by absolute path or by non-applet names (mkfs.ext4, not mke2fs): in a
// busybox initramfs, busybox runs its own applet before PATH.

import { spawn } from 'node:child_process';
import type { CloneLog } from './log.js';
import { type Step, StepError } from './steps.js';

export interface CmdResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CmdOptions {
  /** Runs even in a dry run: it reads and never writes (or writes only to our own temp files). */
  readonly readOnly?: boolean;
  /** A non-zero exit is returned, not thrown. */
  readonly allowFail?: boolean;
  readonly input?: string | Uint8Array;
  /** Do not log the command line (e.g. it is logged by the caller in a better form). */
  readonly quiet?: boolean;
  readonly timeoutMs?: number;
}

/** sh-style quoting for the log lines (what a person would paste). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

export class Commands {
  /** Every command line, run or not, for the summary and tests. */
  readonly history: { argv: readonly string[]; ran: boolean }[] = []; // bounded by the plan's steps (a few dozen)

  constructor(
    private readonly log: CloneLog,
    readonly dryRun: boolean,
  ) {}

  async run(step: Step, argv: readonly string[], opts: CmdOptions = {}): Promise<CmdResult> {
    const ran = !this.dryRun || opts.readOnly === true;
    this.history.push({ argv, ran });
    if (!ran) {
      this.log.line(step, `would run: ${shellQuote(argv)}${opts.input !== undefined ? ' <<< (script above)' : ''}`);
      return { code: 0, stdout: '', stderr: '' };
    }
    if (opts.quiet !== true) this.log.line(step, `$ ${shellQuote(argv)}`);
    const r = await spawnCollect(argv, opts.input, opts.timeoutMs ?? 600_000);
    if (r.code !== 0 && opts.allowFail !== true) {
      const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join(' ') || `exit ${r.code}`;
      throw new StepError(step, `${argv[0]} failed (exit ${r.code}): ${why}`);
    }
    return r;
  }
}

function spawnCollect(argv: readonly string[], input: string | Uint8Array | undefined, timeoutMs: number): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr: signal !== null ? `${stderr} (killed by ${signal})` : stderr });
    });
  });
}
