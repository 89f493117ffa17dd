// The sender's side of the clone agents' reports (CLONE_REPORT, --clone-reports), driven on
// the core directly: hand-made datagrams in, explicit `now`, every transmit decoded.
// Geometry (support/cores.ts): 100-byte blocks, 4 a slice; a 400-byte image is one slice.

import { describe, expect, it } from 'vitest';
import { CAP_CLONE_REPORTS, CAP_PARITY_REPAIR, MessageType } from '../../../protocol/header.js';
import { CloneBootloader, CloneOutcome, CloneStage, CloneTable } from '../../../protocol/messages/clone-report.js';
import { cloneColumns, cloneJson, cloneProblems } from '../../../sender/clone-table.js';
import { type SenderConfig, SenderCore } from '../../../sender/core.js';
import { pattern } from '../../support/bytes.js';
import { senderConfig as cfg, drainEvents, drainSender, only, types } from '../../support/cores.js';
import { cloneReportBytes, joinBytes, OTHER_SESSION, rcv, reportBytes, SESSION } from '../../support/datagrams.js';

const DIGEST = pattern(32, 9);

function from(i: number, bytes: Uint8Array, address = rcv(i).from.address) {
  return { kind: 'datagram' as const, from: { ...rcv(i).from, address }, bytes };
}

/** `n` receivers joined, the 400-byte image sent once, END out; every REPORT verified at t=10 unless `verify` says fewer. */
function transferred(n: number, over: Partial<SenderConfig>, verify = n): SenderCore {
  const core = new SenderCore(cfg({ minReceivers: n, imageBytes: 400, ...over }), 0);
  core.handleTimeout(0);
  for (let i = 0; i < n; i++) core.handle(from(i, joinBytes({ receiverId: rcv(i).id })), 1);
  drainSender(core, 1);
  core.handle({ kind: 'slice', bytes: pattern(400) }, 2);
  core.handle({ kind: 'eof', digest: DIGEST }, 2);
  drainSender(core, 2);
  for (let i = 0; i < verify; i++) core.handle(from(i, reportBytes({ receiverId: rcv(i).id, bytesWritten: 400, digest: DIGEST })), 10);
  drainSender(core, 10);
  return core;
}

const DONE_07 = { host: 'node07', table: CloneTable.Written, fixups: CloneStage.Ok, bootloader: CloneStage.Ok, bootloaderKind: CloneBootloader.Extlinux };

describe('SenderCore: clone reports (--clone-reports)', () => {
  it('HELLO asks the clone agents for their reports (CAP_CLONE_REPORTS) only with --clone-reports', () => {
    for (const [over, caps] of [
      [{ cloneReportsMs: 0 }, CAP_PARITY_REPAIR | CAP_CLONE_REPORTS],
      [{}, CAP_PARITY_REPAIR],
    ] as const) {
      const core = new SenderCore(cfg(over), 0);
      core.handleTimeout(0);
      expect(only(drainSender(core, 0), MessageType.Hello).map((h) => h.caps)).toEqual([caps]);
    }
  });

  it('keeps the session open after the transfer until every verified receiver reported, acks each report, then is done', () => {
    const core = transferred(2, { cloneReportsMs: 5000 });
    const ev = drainEvents(core);
    expect(ev.map((e) => e.kind)).toEqual(['joined', 'joined', 'started', 'ending', 'reported', 'reported']);
    // The transfer is over (phase done), but 'done' waits: only the wait's deadline is armed.
    expect(core.currentPhase).toBe('done');
    expect(core.succeeded).toBe(true);
    expect(core.pollTimeout()).toBe(10 + 5000);

    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07, partitionsFormatted: 3, elapsedMs: 42_000 })), 100);
    expect(only(drainSender(core, 100), MessageType.CloneReportAck)).toEqual([{ sessionId: SESSION, receiverId: rcv(0).id }]);
    expect(drainEvents(core)).toEqual([
      { kind: 'clone-reported', receiverId: rcv(0).id, report: expect.objectContaining({ host: 'node07', outcome: CloneOutcome.Done }) },
    ]);
    expect(core.stats.cloneReports).toBe(1);

    core.handle(
      from(
        1,
        cloneReportBytes({
          receiverId: rcv(1).id,
          host: 'node08',
          outcome: CloneOutcome.Failed,
          failedStep: 9,
          fixups: CloneStage.Ok,
          bootloader: CloneStage.Failed,
          detail: 'no kernel',
        }),
      ),
      200,
    );
    expect(types(drainSender(core, 200))).toEqual(['CLONE_REPORT_ACK']);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['clone-reported', 'done']);
    expect(core.pollTimeout()).toBeUndefined();

    const entries = core.receiverList().map((r) => core.cloneReportOf(r.id));
    expect(entries.map((e) => e.state)).toEqual(['reported', 'reported']);
    expect(cloneColumns(entries[0]!, 5)).toEqual({ host: 'node07', table: 'written', fixups: 'ok', bootloader: 'extlinux', detail: '' });
    expect(cloneColumns(entries[1]!, 5)).toEqual({
      host: 'node08',
      table: 'written',
      fixups: 'ok',
      bootloader: 'extlinux failed',
      detail: 'clone failed at bootloader: no kernel',
    });
    expect(cloneJson(entries[0]!)).toMatchObject({
      state: 'reported',
      ok: true,
      host: 'node07',
      table: 'written',
      fixups: 'ok',
      bootloader: 'extlinux',
      partitionsFormatted: 3,
      seconds: 42,
    });
    expect(cloneJson(entries[1]!)).toMatchObject({ ok: false, failedStep: 'bootloader', detail: 'no kernel' });
    expect(cloneProblems(entries)).toBe(1);
  });

  it('a repeated report (our ack lost) is acked again, changes nothing and is counted', () => {
    const core = transferred(2, { cloneReportsMs: 5000 });
    drainEvents(core);
    const first = cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07 });
    core.handle(from(0, first), 100);
    drainSender(core, 100);
    drainEvents(core);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07, host: 'other' })), 150);
    expect(types(drainSender(core, 150))).toEqual(['CLONE_REPORT_ACK']);
    expect(drainEvents(core)).toEqual([]);
    expect(core.cloneReportOf(rcv(0).id).report?.host).toBe('node07');
    expect([core.stats.cloneReports, core.stats.cloneReportDuplicates]).toEqual([1, 1]);
  });

  it('a report from a non-participant, another address or another session is dropped, counted, not acked', () => {
    const core = transferred(1, { cloneReportsMs: 5000 });
    drainEvents(core);
    core.handle(from(5, cloneReportBytes({ receiverId: rcv(5).id, ...DONE_07 })), 100);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07 }), '198.18.9.9'), 100);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07, sessionId: OTHER_SESSION })), 100);
    expect(drainSender(core, 100)).toEqual([]);
    expect(drainEvents(core)).toEqual([]);
    expect(core.stats.drops).toMatchObject({ ERR_UNKNOWN_RECEIVER: 1, ERR_FOREIGN_ADDRESS: 1, ERR_WRONG_SESSION: 1 });
    expect(core.stats.cloneReports).toBe(0);
    expect(core.cloneReportOf(rcv(0).id).state).toBe('missing');
  });

  it('a verified receiver that never reports: done at the deadline (not at deadline - 1), listed as missing', () => {
    const core = transferred(2, { cloneReportsMs: 3000 });
    drainEvents(core);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07 })), 100);
    drainSender(core, 100);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['clone-reported']);
    core.handleTimeout(3009);
    expect(drainEvents(core)).toEqual([]);
    core.handleTimeout(3010);
    expect(drainEvents(core)).toEqual([{ kind: 'done', ok: true }]);
    const entries = core.receiverList().map((r) => core.cloneReportOf(r.id));
    expect(entries.map((e) => e.state)).toEqual(['reported', 'missing']);
    expect(cloneColumns(entries[1]!, 3)).toEqual({ host: '—', table: '—', fixups: '—', bootloader: '—', detail: 'no clone report within 3 s' });
    expect(cloneProblems(entries)).toBe(1);
  });

  it('reports that arrived during the transfer count: no wait when every verified receiver has reported', () => {
    const core = transferred(1, { cloneReportsMs: 5000 }, 0);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07 })), 5);
    expect(types(drainSender(core, 5))).toEqual(['CLONE_REPORT_ACK']);
    core.handle(from(0, reportBytes({ receiverId: rcv(0).id, bytesWritten: 400, digest: DIGEST })), 10);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['joined', 'started', 'ending', 'clone-reported', 'reported', 'done']);
  });

  it('an abort ends the wait at once', () => {
    const core = transferred(1, { cloneReportsMs: 5000 });
    drainEvents(core);
    core.handle({ kind: 'abort', detail: 'SIGINT' }, 20);
    expect(drainEvents(core)).toEqual([{ kind: 'done', ok: true }]);
    expect(core.pollTimeout()).toBeUndefined();
  });

  it('without --clone-reports: done as soon as the transfer is, a report is still acked but shown nowhere', () => {
    const core = transferred(1, {});
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['joined', 'started', 'ending', 'reported', 'done']);
    expect(core.cloneReportsShown).toBe(false);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07 })), 100);
    expect(types(drainSender(core, 100))).toEqual(['CLONE_REPORT_ACK']);
    expect(core.cloneReportOf(rcv(0).id).state).toBe('reported');
  });

  it('a receiver that failed its transfer is not waited for', () => {
    const core = transferred(2, { cloneReportsMs: 5000 }, 1);
    core.handle(from(1, reportBytes({ receiverId: rcv(1).id, outcome: 1, reason: 4, bytesWritten: 400, digest: DIGEST })), 11);
    drainSender(core, 11);
    drainEvents(core);
    core.handle(from(0, cloneReportBytes({ receiverId: rcv(0).id, ...DONE_07 })), 100);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['clone-reported', 'done']);
    expect(core.succeeded).toBe(false);
    expect(core.cloneReportOf(rcv(1).id).state).toBe('none');
  });
});
