// zstd in the receiver's pipeline: a Sink in front of another Sink, like the gzip and LZ4
// stages of receiver/decompress.ts (which picks it for `--decompress zstd` or the magic
// 28 b5 2f fd). Decoding runs in Debian's libzstd (native/zstd.ts); frames may follow each
// other (zstd -c a b, or udp-sender --compress zstd), skippable frames are skipped, and each
// frame's checksum, when it has one, is checked by libzstd at the frame's end.
//
// Back-pressure: write() resolves only when its input has been consumed and every output
// chunk made from it (at most OUT_CHUNK_BYTES each) has been written by the next sink, so this
// stage holds one output chunk plus libzstd's window (at most 8 MiB for frames made at the
// CLI's levels; libzstd refuses frames asking for more than its default limit of 128 MiB).
// A corrupt stream fails write() and a stream that ends inside a frame fails finish(), each
// with a one-line IoError, so the sink behind never commits.

import { IoError } from '../common/errors.js';
import { loadZstd, type ZstdDecoderHandle } from '../native/zstd.js';
import type { Sink, SinkReport } from './sink-types.js';

/** Output bytes per decompress call handed to the next sink. */
export const OUT_CHUNK_BYTES = 256 << 10;

export class ZstdSink implements Sink {
  private readonly dec: ZstdDecoderHandle;
  private inBytes = 0;
  private outBytes = 0;
  /** A frame is open: its end (hint 0) has not been seen since its first byte. */
  private inFrame = false;

  constructor(private readonly inner: Sink) {
    const z = loadZstd();
    if (!z.ok) throw new IoError('format', `--decompress zstd: ${z.reason}`);
    this.dec = new z.zstd.Decoder();
  }

  get description(): string {
    return this.inner.description;
  }

  private fail(e: unknown): never {
    const msg = e instanceof Error ? e.message : String(e);
    throw new IoError('format', `zstd: corrupt stream: ${msg.replace(/^zstd: /, '')} (within the first ${this.inBytes} compressed bytes)`);
  }

  async write(buf: Uint8Array): Promise<void> {
    let off = 0;
    // A call that consumes nothing and makes nothing has nothing more to do with this input.
    while (off < buf.byteLength || this.inFrame) {
      const out = Buffer.allocUnsafe(OUT_CHUNK_BYTES);
      let r: [number, number, number];
      try {
        r = this.dec.decompress(buf, off, out);
      } catch (e) {
        this.inBytes += buf.byteLength - off;
        this.fail(e);
      }
      const [next, made, hint] = r;
      const used = next - off;
      this.inBytes += used;
      off = next;
      if (used > 0 || made > 0) this.inFrame = hint !== 0;
      if (made > 0) {
        this.outBytes += made;
        await this.inner.write(out.subarray(0, made));
      }
      // Output not full: libzstd took all it could from this input.
      if (made < out.byteLength && off >= buf.byteLength) break;
      if (used === 0 && made === 0) break;
    }
  }

  async finish(): Promise<void> {
    this.dec.close();
    if (this.inBytes === 0) throw new IoError('format', 'zstd: empty stream (no frame at all)');
    if (this.inFrame) throw new IoError('format', `zstd: stream truncated (it ends inside a frame, after ${this.inBytes} compressed bytes)`);
    await this.inner.finish();
  }

  async commit(): Promise<void> {
    await this.inner.commit();
  }

  async discard(): Promise<void> {
    this.dec.close();
    await this.inner.discard();
  }

  report(): SinkReport {
    return { ...this.inner.report(), decompress: { format: 'zstd', inBytes: this.inBytes, outBytes: this.outBytes } };
  }

  offsetSink(): string {
    return '--decompress zstd takes the stream only in order';
  }
}
