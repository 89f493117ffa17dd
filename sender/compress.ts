// udp-sender --compress gzip|lz4|zstd: compresses the image on the fly, off the send loop.
// The input is cut into chunks (CHUNK_BYTES) and each chunk is compressed on its own
// on the libuv threadpool (zlib.gzip, lz4-napi's compressFrame), up to `parallel` at a
// time, and sent in order. The result is a standard multi-member gzip stream (RFC 1952
// §2.2: `gzip -dc` and Node's gunzip read the members in sequence) or a sequence of LZ4
// frames, each with its content checksum (the `lz4` CLI reads concatenated frames), so
// both CLIs and the receiver's --decompress read it. Its size is not known in advance:
// sizeBytes is IMAGE_BYTES_UNKNOWN.
//
// It runs ahead of the sender: up to `parallel` chunks in compression and 2 MiB of
// compressed output ready, so a slice is usually there when the send loop asks for it.
// Memory: that, plus one chunk being read (plus what lz4-napi's native heap keeps).

import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gzip as gzipCb, type ZlibOptions } from 'node:zlib';
import { IoError, oneLine } from '../common/errors.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import { zstdCompressor } from './compress-zstd.js';
import type { CompressFormat, Source, SourceReport } from './source-types.js';

/**
 * Input bytes per gzip member / LZ4 frame. LZ4's is smaller: lz4-napi's native heap
 * keeps what its largest allocations needed (measured peak RSS compressing 512 MiB:
 * 4 MiB chunks 319 MiB, 1 MiB 250, 256 KiB 161, 128 KiB 123) and 256 KiB was also the
 * fastest (~580 MB/s, ratio within 0.2% of 1 MiB chunks).
 */
export const CHUNK_BYTES: Readonly<Record<CompressFormat, number>> = { gzip: 1 << 20, lz4: 256 << 10, zstd: 1 << 20 };
export const DEFAULT_GZIP_LEVEL = 6;

const gzipP = promisify(gzipCb) as (buf: Uint8Array, opts: ZlibOptions) => Promise<Buffer>;

export interface CompressOptions {
  readonly format: CompressFormat;
  /** gzip: 1 (fast) .. 9 (small), default 6 as `gzip`; zstd: 1 .. 19, default 3 as `zstd`. Ignored for LZ4. */
  readonly level?: number;
  /** Chunks compressed at the same time (default 2). */
  readonly parallel?: number;
  readonly chunkBytes?: number;
}

type Compressor = (chunk: Uint8Array) => Promise<Buffer>;
type Lz4Napi = typeof import('lz4-napi');

/** lz4-napi, or null when its prebuilt binary does not load on this platform. */
function loadLz4Napi(): Lz4Napi | null {
  try {
    return createRequire(import.meta.url)('lz4-napi') as Lz4Napi;
  } catch {
    return null;
  }
}

function compressor(opts: CompressOptions): Compressor {
  if (opts.format === 'gzip') {
    const level = opts.level ?? DEFAULT_GZIP_LEVEL;
    return (chunk) => gzipP(chunk, { level });
  }
  if (opts.format === 'zstd') return zstdCompressor(opts.level);
  const lz = loadLz4Napi();
  if (lz === null) throw new IoError('compress', '--compress lz4: the lz4-napi module does not load on this platform (use --compress gzip)');
  return (chunk) => lz.compressFrame(chunk, { contentChecksum: true });
}

/** Compressed bytes made ahead of the reader, so the send loop never waits for a compression round trip. */
const READY_HIGH_WATER_BYTES = 2 << 20;

export class CompressSource implements Source {
  readonly sizeBytes = IMAGE_BYTES_UNKNOWN;
  readonly description: string;
  private readonly compress: Compressor;
  private readonly parallel: number;
  private readonly chunkBytes: number;
  private readonly jobs: Promise<Buffer>[] = []; // at most `parallel`, in input order
  private readonly ready: Buffer[] = []; // compressed, not yet read; bounded by READY_HIGH_WATER_BYTES + one chunk's output
  private readyBytes = 0;
  /** The inner read in progress (one at a time). */
  private reading: Promise<void> | undefined;
  private innerDone = false;
  private innerError: unknown;
  private chunksIn = 0;
  private closed = false;
  /** Bytes read from the inner source, and compressed bytes produced. */
  private inBytes = 0;
  private outBytes = 0;

  constructor(
    private readonly inner: Source,
    private readonly opts: CompressOptions,
  ) {
    this.compress = compressor(opts);
    this.parallel = Math.max(1, opts.parallel ?? 2);
    this.chunkBytes = opts.chunkBytes ?? CHUNK_BYTES[opts.format];
    this.description = `${inner.description} (${opts.format})`;
  }

  private start(chunk: Uint8Array): void {
    const job = this.compress(chunk).catch((e: unknown) => {
      throw new IoError('compress', `--compress ${this.opts.format}: ${oneLine(e)}`, { cause: e });
    });
    job.catch(() => undefined); // awaited in order by read()
    this.jobs.push(job);
  }

  /** Reads and starts compressing the next chunk if there is room: runs ahead of read(). */
  private kick(): void {
    if (this.reading !== undefined || this.innerDone || this.closed) return;
    if (this.jobs.length >= this.parallel || this.readyBytes >= READY_HIGH_WATER_BYTES) return;
    this.reading = (async () => {
      const chunk = await this.inner.read(this.chunkBytes);
      if (chunk === null) {
        this.innerDone = true;
        // An empty image still becomes a valid (empty) gzip member / LZ4 frame.
        if (this.chunksIn === 0) this.start(new Uint8Array(0));
        return;
      }
      this.chunksIn++;
      this.inBytes += chunk.byteLength;
      this.start(chunk);
    })()
      .catch((e: unknown) => {
        this.innerError = e;
        this.innerDone = true;
      })
      .finally(() => {
        this.reading = undefined;
        this.kick();
      });
  }

  async read(n: number): Promise<Uint8Array | null> {
    while (this.readyBytes < n) {
      this.kick();
      const job = this.jobs.shift();
      if (job !== undefined) {
        const out = await job;
        this.outBytes += out.byteLength;
        if (out.byteLength > 0) {
          this.ready.push(out);
          this.readyBytes += out.byteLength;
        }
        continue;
      }
      if (this.reading !== undefined) {
        await this.reading;
        continue;
      }
      // Everything read before the failure has been compressed and handed out in order.
      if (this.innerError !== undefined) throw this.innerError;
      if (this.innerDone) break;
    }
    if (this.readyBytes === 0) return null;
    // A fresh buffer per read: the sender core keeps slices for repair.
    const want = Math.min(n, this.readyBytes);
    const buf = Buffer.allocUnsafe(want);
    let have = 0;
    while (have < want) {
      const head = this.ready[0]!;
      const take = Math.min(head.byteLength, want - have);
      head.copy(buf, have, 0, take);
      have += take;
      if (take === head.byteLength) this.ready.shift();
      else this.ready[0] = head.subarray(take);
    }
    this.readyBytes -= want;
    this.kick();
    return buf;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reading;
    await Promise.allSettled(this.jobs);
    await this.inner.close();
  }

  report(): SourceReport {
    return { ...this.inner.report?.(), compress: { format: this.opts.format, inBytes: this.inBytes, outBytes: this.outBytes } };
  }
}
