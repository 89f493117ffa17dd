// The sender's source interface and what its stages report: the one file every stage and
// the composer (sender/source.ts) import, so no stage imports another or the composer.
//
//   file | device | stdin | --pack DIR  ─►  [--pipe CMD]  ─►  [--compress gzip|lz4]  ─►  driver
//
// Stages: sender/file-source.ts, sender/stream-source.ts (stdin, a --pipe command's output),
// sender/pack.ts, sender/compress.ts.

export type CompressFormat = 'gzip' | 'lz4' | 'zstd';

export interface CompressReport {
  readonly format: CompressFormat;
  /** Bytes read from the image. */
  readonly inBytes: number;
  /** Compressed bytes made of them. */
  readonly outBytes: number;
}

/**
 * What the chain's stages did, for the CLI's summary and --json: a stage with figures
 * reports them under its kind, and a stage in front of another adds its own to what the one
 * behind reports. Nobody needs to know which stages a chain has.
 */
export interface SourceReport {
  readonly compress?: CompressReport;
}

export interface Source {
  /** Bytes the source will give, or IMAGE_BYTES_UNKNOWN. */
  readonly sizeBytes: number;
  readonly description: string;
  /** The next `n` bytes (fewer only at the end); null at the end. Throws IoError. */
  read(n: number): Promise<Uint8Array | null>;
  /**
   * As read(buf.byteLength), into `buf`: the bytes read (fewer only at the end; 0 at the end).
   * Optional: a source that can read into memory it is given (a file, with pread) saves the
   * driver a fresh buffer, and its page faults, per slice. Throws IoError.
   */
  readInto?(buf: Uint8Array): Promise<number>;
  /**
   * Exactly `n` bytes from `offset` again (a late receiver's head, --streaming), into a
   * buffer of their own. Only sources of known size that can seek have it. Throws IoError.
   */
  readAt?(offset: number, n: number): Promise<Uint8Array>;
  close(): Promise<void>;
  /**
   * What this stage and those behind it did. Every stage openSource builds has it; a Source
   * made elsewhere (a test's) may leave it out, and then reports nothing.
   */
  report?(): SourceReport;
}
