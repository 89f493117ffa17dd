// Decompression in the receiver's pipeline: a Sink in front of another Sink. gzip runs in
// node:zlib's stream (inflate on the libuv threadpool); LZ4 frames are parsed and decoded
// here (receiver/lz4-frame.ts, lz4-block.ts). `auto` picks by the
// first bytes: 1f 8b 08 → gzip, 04 22 4d 18 → LZ4 frame, 28 b5 2f fd → zstd (receiver/zstd.ts),
// anything else is passed on as is.
//
// Back-pressure: write() resolves only when its input has been consumed and the output
// made from it has been handed to the next sink (gzip: up to one 256 KiB output chunk may
// still wait in zlib's readable buffer; LZ4: one block, at most 4 MiB). A stream that is
// corrupt or ends early fails finish() (or write()) with a one-line IoError naming the
// problem, so the sink behind never commits.
//
// A receiver that joins late writes at offsets (OffsetSink), which no decompressor can
// take: explicit gzip/lz4 refuse in offsetSink(), and `auto` passes the image on as is
// but refuses it at its first bytes when they announce gzip or LZ4.

import { createGunzip, type Gunzip } from 'node:zlib';
import { IoError, oneLine } from '../common/errors.js';
import { ForwardingSink } from './forwarding-sink.js';
import { defaultLz4Decoder, type Lz4BlockDecoder } from './lz4-block.js';
import { Lz4FrameDecoder, Lz4FrameError } from './lz4-frame.js';
import type { OffsetSink, Sink, SinkReport, StreamFormat } from './sink-types.js';
import { ZstdSink } from './zstd.js';

export type DecompressMode = 'auto' | 'gzip' | 'lz4' | 'zstd' | 'none';

/** Bytes `sniffFormat` needs to decide (fewer only when the stream is shorter). */
export const SNIFF_BYTES = 4;
const GZIP_MAGIC = [0x1f, 0x8b, 0x08]; // ID1 ID2 CM=deflate (RFC 1952)
const LZ4_MAGIC = [0x04, 0x22, 0x4d, 0x18];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd]; // RFC 8878 §3.1.1, little-endian 0xFD2FB528

function startsWith(b: Uint8Array, magic: readonly number[]): boolean {
  return b.byteLength >= magic.length && magic.every((m, i) => b[i] === m);
}

/** The format a stream's first bytes announce. */
export function sniffFormat(head: Uint8Array): StreamFormat {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, LZ4_MAGIC)) return 'lz4';
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** zlib's messages are terse ("unexpected end of file"): say what they mean here. */
function gzipMessage(e: unknown, inBytes: number): string {
  const code = (e as NodeJS.ErrnoException).code;
  const msg = oneLine(e);
  if (code === 'Z_BUF_ERROR' || /unexpected end of file/.test(msg)) return `gzip: stream truncated (unexpected end after ${inBytes} compressed bytes)`;
  if (/incorrect data check/.test(msg)) return `gzip: CRC mismatch: the data is corrupt (${msg})`;
  if (/incorrect length check/.test(msg)) return `gzip: length mismatch: the data is corrupt (${msg})`;
  return `gzip: corrupt stream: ${msg} (within the first ${inBytes} compressed bytes)`;
}

class GunzipSink extends ForwardingSink {
  private readonly z: Gunzip = createGunzip({ chunkSize: 256 << 10 });
  private readonly pumped: Promise<void>;
  /** The pending write's reject, for a pump that stops (then zlib may never call back). */
  private onPumpError: ((e: unknown) => void) | undefined;
  private pumpFailed = false;
  private inBytes = 0;
  private outBytes = 0;

  constructor(inner: Sink) {
    super(inner);
    // The consumer: zlib's output to the next sink, one chunk at a time. zlib stops
    // inflating while its readable buffer is full, so this paces it.
    this.pumped = (async () => {
      for await (const chunk of this.z) {
        this.outBytes += (chunk as Buffer).byteLength;
        await this.inner.write(chunk as Buffer);
      }
    })();
    // One handler for the whole stream: a reaction per write on this long-lived promise
    // would keep every write's buffers alive until the end.
    this.pumped.catch((e: unknown) => {
      this.pumpFailed = true;
      this.onPumpError?.(e);
    });
  }

  private wrap(e: unknown): Error {
    return e instanceof IoError ? e : new IoError('format', gzipMessage(e, this.inBytes), { cause: e });
  }

  /** The error that stopped the pump (zlib's or the next sink's), once it has stopped. */
  private async pumpError(fallback: unknown): Promise<Error> {
    const e = await this.pumped.then(
      () => fallback,
      (err: unknown) => err,
    );
    return this.wrap(e);
  }

  override async write(buf: Uint8Array): Promise<void> {
    this.inBytes += buf.byteLength;
    try {
      await new Promise<void>((resolve, reject) => {
        if (this.pumpFailed) {
          reject(new Error('pump stopped'));
          return;
        }
        this.onPumpError = reject;
        this.z.write(buf, (e) => (e ? reject(e) : resolve()));
      });
    } catch (e) {
      throw await this.pumpError(e);
    } finally {
      this.onPumpError = undefined;
    }
  }

  override async finish(): Promise<void> {
    this.z.end();
    try {
      await this.pumped;
    } catch (e) {
      throw this.wrap(e);
    }
    await this.inner.finish();
  }

  override async discard(): Promise<void> {
    this.z.destroy();
    await this.pumped.catch(() => undefined);
    await this.inner.discard();
  }

  override report(): SinkReport {
    return { ...this.inner.report(), decompress: { format: 'gzip', inBytes: this.inBytes, outBytes: this.outBytes } };
  }

  offsetSink(): string {
    return '--decompress gzip takes the stream only in order';
  }
}

class Lz4Sink extends ForwardingSink {
  private readonly dec: Lz4FrameDecoder;

  constructor(inner: Sink, decoder: Lz4BlockDecoder) {
    super(inner);
    this.dec = new Lz4FrameDecoder(decoder);
  }

  override async write(buf: Uint8Array): Promise<void> {
    try {
      for await (const out of this.dec.write(buf)) await this.inner.write(out);
    } catch (e) {
      throw e instanceof Lz4FrameError ? new IoError('format', e.message, { cause: e }) : e;
    }
  }

  override async finish(): Promise<void> {
    try {
      this.dec.end();
    } catch (e) {
      throw e instanceof Lz4FrameError ? new IoError('format', e.message, { cause: e }) : e;
    }
    await this.inner.finish();
  }

  override report(): SinkReport {
    return { ...this.inner.report(), decompress: { format: 'lz4', inBytes: this.dec.consumedBytes, outBytes: this.dec.outBytes } };
  }

  offsetSink(): string {
    return '--decompress lz4 takes the stream only in order';
  }
}

/** Holds the first SNIFF_BYTES, then becomes the decompressor they announce (or none). */
class AutoDecompressSink extends ForwardingSink {
  private head = new Uint8Array(0);
  private chosen: Sink | undefined;

  constructor(
    inner: Sink,
    private readonly decoder: Lz4BlockDecoder,
  ) {
    super(inner);
  }

  private choose(head: Uint8Array): Sink {
    this.chosen = wrapDecompress(this.inner, sniffFormat(head), this.decoder);
    return this.chosen;
  }

  override async write(buf: Uint8Array): Promise<void> {
    if (this.chosen !== undefined) return this.chosen.write(buf);
    const joined = new Uint8Array(this.head.byteLength + buf.byteLength);
    joined.set(this.head, 0);
    joined.set(buf, this.head.byteLength);
    this.head = joined;
    if (this.head.byteLength < SNIFF_BYTES) return;
    const first = this.head;
    this.head = new Uint8Array(0);
    await this.choose(first).write(first);
  }

  override async finish(): Promise<void> {
    if (this.chosen === undefined) {
      const first = this.head;
      const s = this.choose(first);
      if (first.byteLength > 0) await s.write(first);
    }
    await this.chosen!.finish();
  }

  // Until the first bytes chose a decompressor, the sink behind stands in for it.
  override async commit(): Promise<void> {
    await (this.chosen ?? this.inner).commit();
  }

  override async discard(): Promise<void> {
    await (this.chosen ?? this.inner).discard();
  }

  override report(): SinkReport {
    return (this.chosen ?? this.inner).report();
  }

  offsetSink(): OffsetSink | string {
    const target = this.inner.offsetSink();
    return typeof target === 'string' ? target : new SniffingOffsetSink(target);
  }
}

/**
 * `auto` for a receiver that joined late: the image goes to `inner` as sent, unless the
 * bytes at offset 0 announce gzip or LZ4, which written at offsets could not be
 * decompressed. That is refused before anything is written there.
 */
class SniffingOffsetSink extends ForwardingSink<OffsetSink> implements OffsetSink {
  async writeAt(offset: number, buf: Uint8Array): Promise<void> {
    if (offset === 0 && buf.byteLength > 0) {
      // A first slice shorter than SNIFF_BYTES is judged on what it has (slices are
      // never that short in practice).
      const fmt = sniffFormat(buf.subarray(0, SNIFF_BYTES));
      if (fmt !== 'none') {
        throw new IoError(
          'format',
          `the image is ${fmt}-compressed, and a receiver that joins late writes it at offsets, so it cannot decompress it: ` +
            'start this receiver before the sender starts, or give --decompress none to keep the image as sent',
        );
      }
    }
    await this.inner.writeAt(offset, buf);
  }

  override async write(): Promise<void> {
    throw new IoError('write', `write ${this.description}: in offset mode, only writeAt() takes the image`);
  }

  async digestWritten(bytes: number): Promise<Uint8Array> {
    return this.inner.digestWritten(bytes);
  }

  offsetSink(): OffsetSink {
    return this;
  }
}

/** `inner` behind a decompressor for `mode` (`none`: inner itself). */
export function wrapDecompress(inner: Sink, mode: DecompressMode, decoder: Lz4BlockDecoder = defaultLz4Decoder()): Sink {
  switch (mode) {
    case 'none':
      return inner;
    case 'gzip':
      return new GunzipSink(inner);
    case 'lz4':
      return new Lz4Sink(inner, decoder);
    case 'zstd':
      return new ZstdSink(inner);
    case 'auto':
      return new AutoDecompressSink(inner, decoder);
  }
}
