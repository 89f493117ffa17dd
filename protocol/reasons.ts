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
};

export const MAX_REASON = Reason.LateJoin;

export function reasonName(r: number): string {
  return REASON_NAMES[r] ?? `reason ${r}`;
}
