// A stage in front of another sink (a decompressor, a --pipe command, the late-join sniffer):
// what it does not do itself, it passes on to the sink behind it. Subclasses override what
// they change; each still says why it cannot write at offsets, or becomes an offset sink.

import type { OffsetSink, Sink, SinkReport } from './sink-types.js';

export abstract class ForwardingSink<Inner extends Sink = Sink> implements Sink {
  constructor(protected readonly inner: Inner) {}

  get description(): string {
    return this.inner.description;
  }

  async write(buf: Uint8Array): Promise<void> {
    await this.inner.write(buf);
  }

  async finish(): Promise<void> {
    await this.inner.finish();
  }

  async commit(): Promise<void> {
    await this.inner.commit();
  }

  async discard(): Promise<void> {
    await this.inner.discard();
  }

  report(): SinkReport {
    return this.inner.report();
  }

  abstract offsetSink(): OffsetSink | string;
}
