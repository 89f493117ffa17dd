// Decoders never throw on wire input: they return a tagged result with a stable
// code (the undici style), so callers can count drops by reason.

export type ProtocolErrorCode =
  | 'ERR_TRUNCATED' // shorter than the fixed layout
  | 'ERR_BAD_LENGTH' // longer than the layout allows, or inconsistent length fields
  | 'ERR_BAD_MAGIC'
  | 'ERR_BAD_VERSION'
  | 'ERR_BAD_TYPE'
  | 'ERR_BAD_FIELD' // a field outside its range
  | 'ERR_WRONG_SESSION'
  | 'ERR_WRONG_SENDER'
  | 'ERR_UNKNOWN_RECEIVER'
  | 'ERR_OUT_OF_WINDOW'; // a slice the receiver or sender no longer (or not yet) holds

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: ProtocolErrorCode; readonly detail: string };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function err<T = never>(code: ProtocolErrorCode, detail: string): Result<T> {
  return { ok: false, code, detail };
}

export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
