// The agent's log: each line with the seconds since the start and its step, to the console
// (stdout), to /tmp/clone.log and, once the target root is mounted, to
// ROOT/var/log/rackcast-clone.log (which first gets the lines written before it existed).
// Appends are synchronous: a node that dies right after a line still has it on disk.

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';

export class CloneLog {
  private readonly t0 = performance.now();
  private readonly lines: string[] = []; // bounded: one per command and step of one run (a few hundred)
  private rootLog: string | undefined;

  constructor(
    private readonly logFile: string | undefined,
    private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  ) {
    if (logFile !== undefined) {
      try {
        mkdirSync(dirname(logFile), { recursive: true });
        appendFileSync(logFile, `--- rackcast-clone started ${new Date().toISOString()} (pid ${process.pid})\n`);
      } catch {
        this.logFile = undefined;
      }
    }
  }

  get elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** A line as the console shows it (the failure and done lines are printed bare). */
  line(step: string, msg: string): void {
    this.emit(`rackcast-clone: [${this.elapsedS.toFixed(1).padStart(6)}s] ${step}: ${msg}`);
  }

  /** A line without the time prefix (the final "done" / "failed at" lines the VM test waits for). */
  bare(text: string): void {
    this.emit(text);
  }

  private emit(text: string): void {
    this.out(text);
    this.lines.push(text);
    for (const f of [this.logFile, this.rootLog]) {
      if (f === undefined) continue;
      try {
        appendFileSync(f, `${text}\n`);
      } catch {
        // The log is best effort; the console has the line.
      }
    }
  }

  /** From now on also to this file (ROOT/var/log/rackcast-clone.log), starting with what came before. */
  attachRoot(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, `${this.lines.join('\n')}\n`);
    this.rootLog = file;
  }

  detachRoot(): void {
    this.rootLog = undefined;
  }
}
