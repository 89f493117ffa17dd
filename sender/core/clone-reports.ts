// The clone agents' reports (CLONE_REPORT): how each node's whole clone ended after its
// transfer verified — host name, table written or kept, fixups, bootloader, the failed step.
// With --clone-reports S the session stays open up to S seconds after the transfer for
// the reports of the receivers that verified; the final table and --json show them.
//
// What holds: one report per receiver id, the first that arrived (a repeat, sent because
// our CLONE_REPORT_ACK was lost, changes nothing and is only counted); only ids of
// participants are ever stored (the core checks the id and its address before this), so
// the map is bounded by maxReceivers. The wait is open at most once, from the end of the
// transfer until every awaited receiver reported or its deadline passed. It sends nothing
// and emits no events: the core does both.

import type { CloneReport } from '../../protocol/messages/clone-report.js';
import type { SenderConfig } from './config.js';
import type { SenderStats } from './stats.js';

/** What the final table shows of a receiver's clone. */
export type CloneReportState =
  /** Reported: `report` holds it. */
  | 'reported'
  /** Verified its transfer but sent no report within --clone-reports. */
  | 'missing'
  /** Not verified, and no report: nothing to expect. */
  | 'none';

export class CloneReports {
  private readonly reports = new Map<number, CloneReport>(); // bounded by cfg.maxReceivers (participants only)
  /** The receivers the wait is for (verified ones); empty until the transfer ended. */
  private awaited: readonly number[] = [];
  private deadlineMs: number | undefined;
  private closed = false;

  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'cloneReportsMs'>>,
    private readonly stats: SenderStats,
  ) {}

  /** A participant's report: true when it is the first from this receiver. */
  take(receiverId: number, rep: CloneReport): boolean {
    if (this.reports.has(receiverId)) {
      this.stats.cloneReportDuplicates++;
      return false;
    }
    this.stats.cloneReports++;
    this.reports.set(receiverId, rep);
    return true;
  }

  get(receiverId: number): CloneReport | undefined {
    return this.reports.get(receiverId);
  }

  state(receiverId: number, verified: boolean): CloneReportState {
    if (this.reports.has(receiverId)) return 'reported';
    return verified && this.waitsAtAll ? 'missing' : 'none';
  }

  /** --clone-reports was given (a wait of 0 s means: do not wait, but show what arrived). */
  get waitsAtAll(): boolean {
    return this.cfg.cloneReportsMs !== undefined;
  }

  /**
   * The transfer is over: wait for the reports of `verified` until now + --clone-reports.
   * True while there is something to wait for.
   */
  open(now: number, verified: readonly number[]): boolean {
    if (this.cfg.cloneReportsMs === undefined || this.closed || this.deadlineMs !== undefined) return false;
    this.awaited = verified;
    this.deadlineMs = now + this.cfg.cloneReportsMs;
    return !this.settled(now);
  }

  /** When the wait ends at the latest; undefined when none is open. */
  get deadline(): number | undefined {
    return this.closed ? undefined : this.deadlineMs;
  }

  /** The wait is over: every awaited receiver reported, or the deadline passed. */
  settled(now: number): boolean {
    if (this.closed || this.deadlineMs === undefined) return true;
    return now >= this.deadlineMs || this.awaited.every((id) => this.reports.has(id));
  }

  close(): void {
    this.closed = true;
  }
}
