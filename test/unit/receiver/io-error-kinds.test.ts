// Every failure of the receiver's pipeline carries its kind from where it was thrown, and the
// driver reports a failed --pipe command as PIPE_FAILED and anything else as WRITE_ERROR by
// that kind (receiver/driver.ts), never by the message text. Real commands and files.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { IoError, isIoError } from '../../../common/errors.js';
import { openSink } from '../../../receiver/sink.js';

const dir = mkdtempSync(join(tmpdir(), 'rackcast-kinds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `chunks` and finishes; the error it fails with (or undefined). */
async function failure(sink: Awaited<ReturnType<typeof openSink>>, chunks: readonly Uint8Array[]): Promise<unknown> {
  try {
    for (const c of chunks) await sink.write(c);
    await sink.finish();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await sink.discard();
  }
}

const MiB = 1 << 20;
const data = (bytes: number): Uint8Array => new Uint8Array(bytes).fill(0x5a);

describe('IoError kinds in the receiver pipeline', () => {
  it('a --pipe command that fails: kind pipe, whatever its message says', async () => {
    const e = await failure(await openSink({ file: join(dir, 'a.img'), pipe: 'exit 7', decompress: 'none' }), [data(MiB)]);
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).kind).toBe('pipe');
    expect(isIoError(e, 'pipe')).toBe(true);
  });

  it('a --pipe command that exits 0 before the end of the image: kind pipe', async () => {
    const chunks = Array.from({ length: 64 }, () => data(MiB));
    const e = await failure(await openSink({ file: join(dir, 'b.img'), pipe: 'head -c 10 >/dev/null', decompress: 'none' }), chunks);
    expect(isIoError(e, 'pipe'), String(e)).toBe(true);
  });

  it('a disk that fills behind a --pipe command: the write failure keeps its kind', async () => {
    // /dev/full: every write fails with ENOSPC.
    const e = await failure(await openSink({ file: '/dev/full', pipe: 'cat', decompress: 'none', force: true }), [data(8 * MiB)]);
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).kind).toBe('write');
  });

  it('a write failure whose message mentions --pipe (in the file name) is still kind write', async () => {
    const sub = join(dir, '--pipe');
    mkdirSync(sub);
    symlinkSync('/dev/full', join(sub, 'full'));
    const e = await failure(await openSink({ file: join(sub, 'full'), pipe: undefined, decompress: 'none' }), [data(8 * MiB)]);
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).message).toContain('--pipe');
    expect((e as IoError).kind).toBe('write');
  });

  it('a corrupt gzip stream: kind format', async () => {
    const gz = gzipSync(data(MiB));
    gz[gz.length - 5]! ^= 0xff; // the ISIZE/CRC trailer no longer matches
    const e = await failure(await openSink({ file: join(dir, 'd.img'), pipe: undefined, decompress: 'gzip' }), [gz]);
    expect(isIoError(e, 'format'), String(e)).toBe(true);
  });
});
