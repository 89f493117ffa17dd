// The receiver's sink interfaces and what each stage reports: the one file every stage and
// the composer (receiver/sink.ts) import, so no stage imports another or the composer.
//
//   network ─► driver (sha256 of the bytes as sent) ─► [gunzip | lz4] ─► [--pipe CMD] ─► disk writer | stdout | cpio unpacker
//
// Stages: receiver/decompress.ts, receiver/stream-sink.ts (stdout, --pipe), receiver/disk.ts,
// receiver/cpio/unpack.ts; a stage in front of another extends receiver/forwarding-sink.ts.

import type { CpioFormat } from './cpio/reader.js';

/**
 * What the pipeline's stages did, for the CLI's summary and --json: each stage that has
 * figures reports them under its kind, and a stage in front of another adds its own to what
 * the one behind reports. Nobody needs to know which stages a chain has.
 */
export interface SinkReport {
  readonly decompress?: DecompressReport;
  readonly disk?: DiskReport;
  readonly unpack?: UnpackReport;
  /** A --pipe command: what went into its stdin. */
  readonly pipe?: StreamReport;
  readonly stdout?: StreamReport;
}

/** A stream stage (stdout, a --pipe command's stdin). */
export interface StreamReport {
  /** Bytes written to the stream. */
  readonly bytes: number;
  /** Time spent waiting for the stream to take them (its back-pressure). */
  readonly busySeconds: number;
}

export interface Sink {
  readonly description: string;
  /** Writes the next bytes of the stream (sequential; one call at a time). Throws IoError. */
  write(buf: Uint8Array): Promise<void>;
  /** Everything is written: flush to stable storage, wait for a pipe command to succeed. Throws IoError. */
  finish(): Promise<void>;
  /** Verified: make the result visible under its name. Throws IoError. */
  commit(): Promise<void>;
  /** Failed: remove what could look like a complete image. Never throws. */
  discard(): Promise<void>;
  report(): SinkReport;
  /** This sink for writing at offsets, or, when it takes bytes only in order, one line saying why (for the user). Call before any write. */
  offsetSink(): OffsetSink | string;
}

/** A sink that takes the image at byte offsets, in any order (a receiver that joined late). */
export interface OffsetSink extends Sink {
  /** Writes `buf` at byte `offset` of the image. Each byte range is written at most once; ranges come in any order. Throws IoError. */
  writeAt(offset: number, buf: Uint8Array): Promise<void>;
  /** After finish(): the SHA-256 of the first `bytes` bytes as written, read back from the file or device. Throws IoError (e.g. shorter than `bytes`). */
  digestWritten(bytes: number): Promise<Uint8Array>;
}

export type StreamFormat = 'gzip' | 'lz4' | 'zstd' | 'none';

export interface DecompressReport {
  readonly format: StreamFormat;
  /** Compressed bytes in. */
  readonly inBytes: number;
  /** Decompressed bytes out. */
  readonly outBytes: number;
}

export type DiskKind = 'file' | 'block' | 'other';

export interface DiskReport {
  readonly path: string;
  readonly kind: DiskKind;
  /** Image bytes written: the sum of the lengths given to write()/writeAt() (holes included; each range is written once, so a complete image gives its size). */
  readonly bytes: number;
  /** Of those, left as holes (all-zero blocks not written). */
  readonly holeBytes: number;
  /** From the first byte to the end of fsync (paced by the network and what is before this stage). */
  readonly seconds: number;
  /** Time spent in write() calls and fsync: the disk's own share. */
  readonly busySeconds: number;
  readonly fsyncSeconds: number;
  /** Of `bytes`, written with O_DIRECT (not through the page cache; receiver/disk.ts). */
  readonly directBytes?: number;
}

export interface UnpackReport {
  readonly dir: string;
  readonly format: CpioFormat | undefined;
  readonly entries: number;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  readonly hardLinks: number;
  readonly devices: number;
  readonly fifos: number;
  /** Entries not created (devices without root, sockets). */
  readonly skipped: number;
  /** Bytes of file data written (holes included). */
  readonly dataBytes: number;
  readonly holeBytes: number;
  readonly warnings: number;
  readonly seconds: number;
  /** Time spent in write(): parsing the archive and writing the files. */
  readonly busySeconds: number;
}
