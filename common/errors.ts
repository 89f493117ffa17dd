// Exit codes (documented in the README) and the errors the CLIs map to them.

export const EXIT_OK = 0;
/** The transfer failed: a receiver not verified (sender), this receiver not verified (receiver). */
export const EXIT_FAILED = 1;
/** Wrong options. */
export const EXIT_USAGE = 2;
/** The environment failed: a file, device, socket or pipe command. */
export const EXIT_IO = 3;

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A local I/O failure (file, device, socket, pipe command), with a one-line message. */
export class IoError extends Error {
  readonly code = 'ERR_IO';
  constructor(message: string) {
    super(message);
    this.name = 'IoError';
  }
}

export function oneLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.replace(/\s+/g, ' ').trim();
}
