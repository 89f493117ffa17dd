// Exit codes (documented in the README) and the errors the CLIs map to them.

export const EXIT_OK = 0;
/** The transfer failed: a receiver not verified (sender), this receiver not verified (receiver). */
export const EXIT_FAILED = 1;
/** Wrong options. */
export const EXIT_USAGE = 2;
/** The environment failed: a file, device, socket or pipe command. */
export const EXIT_IO = 3;
/**
 * udp-sender --clone-reports: every receiver verified its image, but some node's clone
 * (rackcast-clone) failed after the transfer, or its report did not arrive in time.
 */
export const EXIT_CLONE = 4;

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * What part of the environment failed, set where the error is thrown so the driver and the
 * CLI decide by it (the receiver reports a failed --pipe command as PIPE_FAILED, any other
 * write failure as WRITE_ERROR), never by the message text.
 */
export type IoErrorKind =
  /** A file, device or directory cannot be opened or created, or is refused (in use, wrong type). */
  | 'open'
  /** Reading the image failed: a file, device, stdin, --pack's tree, or reading back what was written. */
  | 'read'
  /** Writing the image failed: a file, device, stdout, unpacked entries, flush, rename. */
  | 'write'
  /** A --pipe command failed, exited early, or its stdin or stdout broke. */
  | 'pipe'
  /** A UDP socket could not be bound or set up. */
  | 'socket'
  /** The stream is not what it claims or cannot be taken as it is: corrupt gzip, LZ4 or cpio, an unsafe entry. */
  | 'format'
  /** --compress failed. */
  | 'compress';

/** A local I/O failure (file, device, socket, pipe command), with a one-line message. */
export class IoError extends Error {
  readonly code = 'ERR_IO';
  constructor(
    readonly kind: IoErrorKind,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IoError';
  }
}

/** Whether `e` is an IoError of `kind`. */
export function isIoError(e: unknown, kind: IoErrorKind): e is IoError {
  return e instanceof IoError && e.kind === kind;
}

export function oneLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.replace(/\s+/g, ' ').trim();
}
