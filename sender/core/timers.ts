// The sender core's timers: one table, and the next wake-up is the earliest armed timer
// (quinn-proto's TimerTable). No other deadline exists in the core.
//
// What each timer means while armed:
//   Hello  the next HELLO; armed from the start until the session is done.
//   Start  announcing only: the session starts then without another JOIN (--min-wait
//          after --min-receivers joined, --max-wait, or --async's wait).
//   Round  the next REQACK round (transferring, window full) or END round (ending)
//          (sender/core/rounds.ts).
//   Pace   the token bucket holds DATA back: it holds a datagram's worth by then.
//   GiveUp announcing only, with --start-timeout: the sender gives up then unless it started.
//   Probe  quiet session: the probe round in progress sends a copy of its REQACK or ends
//          (sender/core/probe.ts).
//   CloneReports  the transfer is over (--clone-reports): the wait for the clone agents'
//          reports ends then at the latest. The only timer armed after the transfer.
// Hello and Round are armed when they are scheduled. Start, GiveUp, Pace and Probe follow
// from state that nearly every input changes (who is in the session, the flow window, the
// bucket, the round), so the core re-arms them from that state when it is asked for the
// next timeout.
// Once the transfer is over every timer is stopped but CloneReports (while that wait is
// open), and once the session is done nextTimeout() is undefined.

export enum Timer {
  Hello,
  Start,
  Round,
  Pace,
  GiveUp,
  Probe,
  CloneReports,
}

const TIMERS = 7;

export class TimerTable {
  /** Deadline per Timer (virtual ms); undefined: not armed. Bounded: one slot per Timer. */
  private readonly at: (number | undefined)[] = new Array<number | undefined>(TIMERS).fill(undefined);

  set(timer: Timer, atMs: number | undefined): void {
    this.at[timer] = atMs;
  }

  stop(timer: Timer): void {
    this.at[timer] = undefined;
  }

  get(timer: Timer): number | undefined {
    return this.at[timer];
  }

  /** Armed and due at `now`. */
  expired(timer: Timer, now: number): boolean {
    const t = this.at[timer];
    return t !== undefined && now >= t;
  }

  stopAll(): void {
    this.at.fill(undefined);
  }

  /** The earliest armed deadline, or undefined when none is armed. */
  nextTimeout(): number | undefined {
    let next: number | undefined;
    for (const t of this.at) if (t !== undefined && (next === undefined || t < next)) next = t;
    return next;
  }
}
