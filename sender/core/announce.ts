// When the announcing phase ends and the transfer starts: on Enter at the sender's terminal
// (unless --nokbd), once enough receivers joined (--min-receivers, or a receiver of every
// host --hosts lists) and --min-wait passed since the first JOIN, or --max-wait after the
// first JOIN whoever joined; with --async (nobody joins) --min-wait after the sender came
// up. And when the sender gives up instead: --start-timeout after it came up.
//
// What holds: nothing starts without an active receiver (async aside), and without one
// there is no start deadline either, so a deadline already past never wakes the driver for
// nothing; the first JOIN's time is kept even if that receiver leaves. The give-up time is
// fixed from the start, and the core acts on it once (the session ends).

import type { SenderConfig } from './config.js';

type AnnounceConfig = Pick<SenderConfig, 'async' | 'minWaitMs' | 'maxWaitMs' | 'waitForKey' | 'startTimeoutMs'>;

export class StartGate {
  private firstJoinAtMs: number | undefined;
  private keyPressed = false;

  constructor(
    private readonly cfg: Readonly<AnnounceConfig>,
    private readonly createdAtMs: number,
  ) {}

  /** Enter on the sender's terminal. */
  keyPress(): void {
    this.keyPressed = true;
  }

  /** A receiver joined at `now`. */
  joined(now: number): void {
    this.firstJoinAtMs ??= now;
  }

  /**
   * When the session starts without another input, given `active` receivers of which
   * `enough` says whether they are all it waits for; undefined: not by time.
   */
  deadline(active: number, enough: boolean): number | undefined {
    if (this.cfg.async) return this.createdAtMs + this.cfg.minWaitMs;
    // Everyone who joined has left: nothing can start until the next JOIN, and a deadline
    // already past would wake the driver at once, forever (shouldStart says no).
    if (this.firstJoinAtMs === undefined || active === 0) return undefined;
    let t: number | undefined;
    if (enough) t = this.firstJoinAtMs + this.cfg.minWaitMs;
    if (this.cfg.maxWaitMs !== undefined) {
      const m = this.firstJoinAtMs + this.cfg.maxWaitMs;
      t = t === undefined ? m : Math.min(t, m);
    }
    return t;
  }

  shouldStart(now: number, active: number, enough: boolean): boolean {
    if (this.cfg.async) return now >= this.createdAtMs + this.cfg.minWaitMs;
    if (active === 0) return false;
    if (this.cfg.waitForKey && this.keyPressed) return true;
    const t = this.deadline(active, enough);
    return t !== undefined && now >= t;
  }

  /** When the sender gives up on starting (--start-timeout); undefined: never. */
  giveUpAt(): number | undefined {
    return this.cfg.startTimeoutMs === undefined ? undefined : this.createdAtMs + this.cfg.startTimeoutMs;
  }
}
