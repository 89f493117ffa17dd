// Helpers for the loopback integration tests: run the built CLIs as real processes
// with a hard deadline, keep every child's PID so a test can end exactly the processes
// it started, and give each test its own ports and multicast groups so that two
// transfers on this host (another test run, a bench) never hear each other.
// Assumes `npm run build` has produced dist/ (`npm run test:integration` builds first).

import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

export { sleep } from '../support/wait.js';

export const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
export const RECEIVER_CLI = fileURLToPath(new URL('../../dist/receiver/cli.js', import.meta.url));
export const SPRAY_SCRIPT = fileURLToPath(new URL('./spray-foreign.mjs', import.meta.url));
export const LOOPBACK = '127.0.0.1';

export function builtCliMissing(): string | undefined {
  for (const p of [SENDER_CLI, RECEIVER_CLI]) if (!existsSync(p)) return `${p} is missing: run npm run build first`;
  return undefined;
}

/** One transfer's ports and groups; the data port is `portbase`, control `portbase + 1`. */
export interface Session {
  readonly portbase: number;
  readonly dataGroup: string;
  readonly rdvGroup: string;
}

/** The CLIs' defaults use 239.192.67.x and port 9000; a random session stays clear of them. */
export function newSession(): Session {
  const portbase = 2 * randomInt(10_000, 30_000); // even, 20000..59998
  let third = randomInt(0, 256);
  if (third === 67) third = 68;
  return { portbase, dataGroup: `239.192.${third}.1`, rdvGroup: `239.192.${third}.2` };
}

export function senderNetArgs(s: Session): string[] {
  return ['--interface', LOOPBACK, '--portbase', String(s.portbase), '--mcast-data-address', s.dataGroup, '--mcast-rdv-address', s.rdvGroup];
}

export function receiverNetArgs(s: Session): string[] {
  return ['--interface', LOOPBACK, '--portbase', String(s.portbase), '--mcast-rdv-address', s.rdvGroup];
}

export interface RunResult {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit. */
  readonly wallMs: number;
  /** Performance-clock time of the exit, to compare with other events of the test. */
  readonly exitAtMs: number;
  /** The deadline passed and the process was killed: it hung. */
  readonly timedOut: boolean;
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly startedAtMs: number;
  readonly result: Promise<RunResult>;
  kill(signal: NodeJS.Signals): void;
  /** Brings the deadline forward to `ms` from now (never later than it was). */
  shortenDeadline(ms: number): void;
}

export interface StartOptions {
  /** stdin: nothing, a file streamed through a pipe (like `cat FILE |`), or these bytes through a pipe. */
  readonly stdin?: { readonly file: string } | { readonly bytes: Uint8Array };
  /** stdout goes straight to this file (the receiver's image); otherwise it is collected. */
  readonly stdoutFile?: string;
  /** The process is killed (SIGKILL) after this long and the result says timedOut. */
  readonly timeoutMs?: number;
  /** The child's whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Every process a test starts; `killLeftovers` ends them by PID and only them. */
export class Processes {
  private readonly live = new Map<number, { child: ChildProcess; exited: Promise<RunResult> }>(); // bounded: a handful per test

  start(name: string, script: string, args: readonly string[], opts: StartOptions = {}): Proc {
    const outFd = opts.stdoutFile === undefined ? undefined : openSync(opts.stdoutFile, 'w');
    const stdio: StdioOptions = [opts.stdin === undefined ? 'ignore' : 'pipe', outFd ?? 'pipe', 'pipe'];
    const startedAtMs = performance.now();
    const child = spawn(process.execPath, [script, ...args], { stdio, env: opts.env });
    // The child holds its own copy of the descriptor.
    if (outFd !== undefined) closeSync(outFd);
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    const pid = child.pid;
    if (opts.stdin !== undefined) {
      // A process that exits early (a usage error) closes its end: that is not the test's concern.
      child.stdin!.on('error', () => undefined);
      if ('file' in opts.stdin) createReadStream(opts.stdin.file).pipe(child.stdin!);
      else child.stdin!.end(opts.stdin.bytes);
    }
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let timedOut = false;
    const onDeadline = (): void => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    let deadlineAtMs = startedAtMs + (opts.timeoutMs ?? 30_000);
    let timer = setTimeout(onDeadline, deadlineAtMs - startedAtMs);
    const exited = new Promise<RunResult>((resolve) => {
      // 'close' comes after stdout/stderr are drained.
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.live.delete(pid);
        const exitAtMs = performance.now();
        resolve({ name, code, signal, stdout, stderr, wallMs: exitAtMs - startedAtMs, exitAtMs, timedOut });
      });
    });
    this.live.set(pid, { child, exited });
    const shortenDeadline = (ms: number): void => {
      const at = performance.now() + ms;
      if (at >= deadlineAtMs || child.exitCode !== null || child.signalCode !== null) return;
      deadlineAtMs = at;
      clearTimeout(timer);
      timer = setTimeout(onDeadline, ms);
    };
    return { name, pid, startedAtMs, result: exited, kill: (signal) => child.kill(signal), shortenDeadline };
  }

  /** SIGKILL to every process still running, by PID, then wait for them to be reaped. */
  async killLeftovers(): Promise<string[]> {
    const left = [...this.live.entries()];
    for (const [, p] of left) p.child.kill('SIGKILL');
    const results = await Promise.all(left.map(([, p]) => p.exited));
    return results.map((r) => r.name);
  }
}

/**
 * The sender's result, then the receivers'. Once the sender has exited, a receiver has
 * at most `graceMs` left: a receiver whose sender died waits out its own timeouts
 * (30 s by default), which would cost the run time without telling anything more.
 */
export async function senderThenReceivers(sender: Proc, receivers: readonly Proc[], graceMs = 8000): Promise<[RunResult, RunResult[]]> {
  const sr = await sender.result;
  for (const p of receivers) p.shortenDeadline(graceMs);
  return [sr, await Promise.all(receivers.map((p) => p.result))];
}

/** For assertion messages: everything needed to see why a process did what it did. */
export function describeRun(r: RunResult): string {
  return [
    `${r.name}: exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (TIMED OUT, killed)' : ''} after ${(r.wallMs / 1000).toFixed(2)} s`,
    `  stdout: ${r.stdout.trim().slice(-1500)}`,
    `  stderr: ${r.stderr.trim().slice(-1500)}`,
  ].join('\n');
}

/** The process exited by itself (not killed at its deadline) with this code. */
export function expectExit(r: RunResult, code: number): void {
  expect(r.timedOut, describeRun(r)).toBe(false);
  expect(r.code, describeRun(r)).toBe(code);
}

/** The lines of a process's stderr; a message is complete only if it ends with a newline. */
export function stderrLines(r: RunResult): string[] {
  if (r.stderr === '') return [];
  return r.stderr.replace(/\n$/, '').split('\n');
}

/** The CLIs' --json report: the last non-empty line of stdout. */
export function parseJsonReport<T = Record<string, unknown>>(r: RunResult): T {
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '');
  if (lines.length === 0) throw new Error(`${r.name}: no JSON report on stdout\n${describeRun(r)}`);
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export interface SenderReport {
  readonly ok: boolean;
  readonly bytes: number;
  readonly digest: string;
  readonly receivers: readonly { id: string; address: string; state: string; bytes: number; reason?: string }[];
  readonly stats: { readonly drops: Record<string, number> } & Record<string, unknown>;
}

export interface ReceiverReport {
  readonly ok: boolean;
  readonly receiverId: string;
  readonly bytes: number;
  /** Seconds from the start of the transfer to its end. */
  readonly seconds: number;
  readonly digest: string;
  readonly reason?: string;
  readonly detail?: string;
  readonly stats: { readonly drops: Record<string, number> } & Record<string, unknown>;
}

/** Writes `bytes` random bytes and returns their sha256 (hex). */
export async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const data = randomBytes(bytes);
  await writeFile(path, data);
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The receiver's temporary files (`.NAME.rackcast-PID.part`) left in `dir`. */
export async function partFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.part'));
}

export function sumCounts(counts: Record<string, number> | undefined): number {
  return Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
}

export interface LoopbackFixture {
  readonly procs: Processes;
  /** The run's temporary root (set in beforeAll). */
  readonly root: string;
  /** A random image of the asked size under root, and its sha256 (hex). */
  readonly image: string;
  readonly imageSha: string;
  /** A fresh directory per call, under root. */
  testDir(): Promise<string>;
}

/**
 * The frame of a loopback suite, to call at the top of its describe block: a temporary
 * root holding one random image, a directory per test, the processes a test started
 * killed by PID after it, and the root removed at the end.
 */
export function loopbackFixture(name: string, imageBytes: number): LoopbackFixture {
  let testNo = 0;
  const fx = {
    procs: new Processes(),
    root: '',
    image: '',
    imageSha: '',
    async testDir(): Promise<string> {
      const d = join(fx.root, `t${++testNo}`);
      await mkdir(d);
      return d;
    },
  };
  beforeAll(async () => {
    fx.root = await mkdtemp(join(tmpdir(), `rackcast-${name}-`));
    fx.image = join(fx.root, `image${imageBytes >> 20}.bin`);
    fx.imageSha = await writeRandomFile(fx.image, imageBytes);
  });
  afterEach(async () => {
    const left = await fx.procs.killLeftovers();
    if (left.length > 0) console.log(`killed leftover processes: ${left.join(', ')}`);
  });
  afterAll(async () => {
    if (fx.root !== '') await rm(fx.root, { recursive: true, force: true });
  });
  return fx;
}
