// Reads a byte stream in chunks of an exact size (the last may be short), with the
// stream's own back-pressure: nothing is read ahead beyond what the caller asks for.

import type { Readable } from 'node:stream';

export class ChunkReader {
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly stream: Readable) {
    stream.on('readable', () => this.notify());
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.on('error', (e: Error) => {
      this.error = e;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Exactly `n` bytes, fewer only at the end of the stream; null when nothing is left. */
  async read(n: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let have = 0;
    for (;;) {
      if (this.error !== undefined) throw this.error;
      while (have < n) {
        const want = n - have;
        // read(size) returns null until `size` bytes are buffered, unless the stream ended.
        const chunk = (this.stream.read(Math.min(want, this.stream.readableLength || want)) as Buffer | null) ?? null;
        if (chunk === null) break;
        parts.push(chunk);
        have += chunk.length;
      }
      if (have >= n || this.ended) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (have === 0) return null;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
  }
}
