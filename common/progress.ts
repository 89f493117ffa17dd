// The live one-line status on a terminal (udpcast-like), redrawn at most 4 times a second.

import { formatBytes } from './units.js';

export class ProgressLine {
  private lastDrawMs = 0;
  private lastBytes = 0;
  private lastAtMs = 0;
  private rateBps = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled: boolean,
  ) {}

  update(nowMs: number, bytes: number, extra: string, force = false): void {
    if (!this.enabled) return;
    if (!force && nowMs - this.lastDrawMs < 250) return;
    if (nowMs > this.lastAtMs) {
      const inst = ((bytes - this.lastBytes) / (nowMs - this.lastAtMs)) * 1000;
      this.rateBps = this.lastAtMs === 0 ? inst : this.rateBps * 0.5 + inst * 0.5;
    }
    this.lastBytes = bytes;
    this.lastAtMs = nowMs;
    this.lastDrawMs = nowMs;
    const line = `${formatBytes(bytes).padStart(10)}  ${(this.rateBps / 1e6).toFixed(1).padStart(7)} MB/s  ${extra}`;
    this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 100) - 1)}\x1b[K`);
    this.drawn = true;
  }

  end(): void {
    if (this.enabled && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
