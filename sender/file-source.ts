// A regular file or block device given as --file: read in order, and read again at an
// offset for a receiver that joined late (--streaming).

import { type promises as fsp, readFileSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { IoError, oneLine } from '../common/errors.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import type { Source, SourceReport } from './source-types.js';

/** A block device's size from sysfs (Node cannot seek to the end of a device). */
export function blockDeviceBytes(path: string): number {
  try {
    const name = basename(realpathSync(path));
    const sectors = Number(readFileSync(`/sys/class/block/${name}/size`, 'utf8').trim());
    return Number.isSafeInteger(sectors) ? sectors * 512 : IMAGE_BYTES_UNKNOWN;
  } catch {
    return IMAGE_BYTES_UNKNOWN;
  }
}

export class FileSource implements Source {
  private pos = 0;
  constructor(
    private readonly fh: fsp.FileHandle,
    readonly sizeBytes: number,
    readonly description: string,
  ) {}

  async read(n: number): Promise<Uint8Array | null> {
    const buf = Buffer.allocUnsafe(n);
    const have = await this.readInto(buf);
    return have === 0 ? null : buf.subarray(0, have);
  }

  async readInto(buf: Uint8Array): Promise<number> {
    const n = buf.byteLength;
    let have = 0;
    while (have < n) {
      let r;
      try {
        r = await this.fh.read(buf, have, n - have, this.pos);
      } catch (e) {
        throw new IoError('read', `read ${this.description}: ${oneLine(e)}`, { cause: e });
      }
      if (r.bytesRead === 0) break;
      have += r.bytesRead;
      this.pos += r.bytesRead;
    }
    if (this.sizeBytes !== IMAGE_BYTES_UNKNOWN && have < n && this.pos !== this.sizeBytes) {
      throw new IoError('read', `${this.description} shrank while being sent (${this.pos} of ${this.sizeBytes} bytes)`);
    }
    return have;
  }

  async readAt(offset: number, n: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(n);
    let have = 0;
    while (have < n) {
      let r;
      try {
        r = await this.fh.read(buf, have, n - have, offset + have);
      } catch (e) {
        throw new IoError('read', `read ${this.description} again at ${offset}: ${oneLine(e)}`, { cause: e });
      }
      if (r.bytesRead === 0) throw new IoError('read', `${this.description} shrank while being sent (read again at ${offset})`);
      have += r.bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  report(): SourceReport {
    return {};
  }
}
