// Why a receiver failed, left or was dropped: one byte on the wire (REPORT, LEAVE, DROP),
// a stable name in logs and in the sender's table.

export enum Reason {
  None = 0,
  DigestMismatch = 1,
  WriteError = 2,
  PipeFailed = 3,
  ReceiveTimeout = 4,
  Interrupted = 5,
  Unrecoverable = 6,
  NoAnswer = 7,
  SenderAbort = 8,
  ProtocolViolation = 9,
  StartTimeout = 10,
  SessionFull = 11,
  SizeMismatch = 12,
  LateJoin = 13,
  /** The receiver lacks a capability the session needs (JOIN without CAP_PARITY_REPAIR). */
  Incompatible = 14,
  /** The sender was given the rack's hosts (--hosts) and this receiver's host is not one of them. */
  NotListed = 15,
}

export const REASON_NAMES: Readonly<Record<number, string>> = {
  [Reason.None]: 'none',
  [Reason.DigestMismatch]: 'digest mismatch',
  [Reason.WriteError]: 'write error',
  [Reason.PipeFailed]: 'pipe command failed',
  [Reason.ReceiveTimeout]: 'receive timeout',
  [Reason.Interrupted]: 'interrupted',
  [Reason.Unrecoverable]: 'data no longer available for repair',
  [Reason.NoAnswer]: 'no answer',
  [Reason.SenderAbort]: 'sender aborted',
  [Reason.ProtocolViolation]: 'protocol violation',
  [Reason.StartTimeout]: 'start timeout',
  [Reason.SessionFull]: 'session full',
  [Reason.SizeMismatch]: 'size mismatch',
  [Reason.LateJoin]: 'joined after the transfer started',
  [Reason.Incompatible]: 'receiver lacks a capability the session needs',
  [Reason.NotListed]: "not on the sender's --hosts list",
};

export const MAX_REASON = Reason.NotListed;

export function reasonName(r: number): string {
  return REASON_NAMES[r] ?? `reason ${r}`;
}
