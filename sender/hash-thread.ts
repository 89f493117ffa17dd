// The image's SHA-256 on a worker thread, over the slices the sender reads into its slice
// ring (shared memory): at one receiver the send loop's thread is what binds the transfer
// (98% busy at 0% loss once slices are read ahead), and the hash was 0.66 s/GB of it.
// The send loop now spends a few atomic operations per slice on it.
//
// The two threads share an Int32Array (ctl) and the ring:
//   ctl[POSTED]        slices handed to the worker, in order (the main thread adds)
//   ctl[HASHED]        slices hashed (the worker adds, then notifies)
//   ctl[ENDED]         1: nothing follows the slices posted (the main thread sets)
//   ctl[GEN]           bumped with every post and with the end, then notified: the worker
//                      reads it before it looks for work, so no wake-up is lost
//   ctl[LENS + slot]   the length of the slice posted into `slot`
// Slice i lies in slot i % slots, at slot * slotBytes. The main thread writes slot s again
// only once the slice it held was hashed (`hashed`, `whenHashed`). After the end the worker
// posts one message, the digest and its CPU time, and stops.

import { createHash } from 'node:crypto';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { threadCpuMs } from '../common/cpu-clock.js';

const POSTED = 0;
const HASHED = 1;
const ENDED = 2;
const GEN = 3;
const LENS = 4;

/** Atomics.waitAsync (Node 16+; in TypeScript's lib from ES2024 on, after this project's target). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync.bind(Atomics);

interface HashThreadData {
  readonly ring: SharedArrayBuffer;
  readonly ctl: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
}

interface HashThreadResult {
  readonly digest: Uint8Array;
  readonly cpuMs: number;
}

export class HashThread {
  private readonly ctl: Int32Array;
  private readonly worker: Worker;
  private readonly result: Promise<HashThreadResult>;

  /**
   * `ring`: slots * slotBytes bytes, the slices the sender reads. `onError`: the thread failed
   * (it will hash nothing more; whenHashed() would wait for ever).
   */
  constructor(ring: SharedArrayBuffer, slots: number, slotBytes: number, onError: (e: Error) => void) {
    if (ring.byteLength < slots * slotBytes) throw new RangeError('ring smaller than slots * slotBytes');
    const ctl = new SharedArrayBuffer(4 * (LENS + slots));
    this.ctl = new Int32Array(ctl);
    const data: HashThreadData = { ring, ctl, slots, slotBytes };
    this.worker = new Worker(new URL(import.meta.url), { workerData: data });
    this.worker.unref();
    this.result = new Promise<HashThreadResult>((resolve, reject) => {
      this.worker.once('message', (m: HashThreadResult) => resolve(m));
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`the hash thread exited (code ${code}) before the digest`)));
    });
    this.result.catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
  }

  /** Slices hashed so far. */
  get hashed(): number {
    return Atomics.load(this.ctl, HASHED);
  }

  /** Resolves once `count` slices are hashed. */
  async whenHashed(count: number): Promise<void> {
    for (;;) {
      const h = Atomics.load(this.ctl, HASHED);
      if (h >= count) return;
      const w = waitAsync(this.ctl, HASHED, h);
      if (w.async) await w.value;
    }
  }

  /** Hands over the next slice: `length` bytes at the start of `slot`. */
  post(slot: number, length: number): void {
    Atomics.store(this.ctl, LENS + slot, length);
    Atomics.add(this.ctl, POSTED, 1);
    this.wake();
  }

  /** Nothing follows: the digest of every byte posted. */
  finish(): Promise<HashThreadResult> {
    Atomics.store(this.ctl, ENDED, 1);
    this.wake();
    return this.result;
  }

  /** Stops the thread (after finish(), or to give up); reports nothing more. */
  async close(): Promise<void> {
    this.worker.removeAllListeners();
    this.worker.on('error', () => undefined);
    await this.worker.terminate();
  }

  private wake(): void {
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
  }
}

/** The worker's side: hashes each slice posted, in order, until the end. */
function hashSlices(data: HashThreadData): HashThreadResult {
  const ctl = new Int32Array(data.ctl);
  const hash = createHash('sha256');
  let done = 0;
  let cpuMs = 0;
  for (;;) {
    const gen = Atomics.load(ctl, GEN);
    if (done < Atomics.load(ctl, POSTED)) {
      const slot = done % data.slots;
      const t0 = threadCpuMs();
      hash.update(new Uint8Array(data.ring, slot * data.slotBytes, Atomics.load(ctl, LENS + slot)));
      cpuMs += threadCpuMs() - t0;
      done++;
      Atomics.store(ctl, HASHED, done);
      Atomics.notify(ctl, HASHED);
      continue;
    }
    if (Atomics.load(ctl, ENDED) === 1) break;
    Atomics.wait(ctl, GEN, gen);
  }
  return { digest: hash.digest(), cpuMs };
}

if (!isMainThread && parentPort !== null && (workerData as Partial<HashThreadData> | null)?.ring instanceof SharedArrayBuffer) {
  parentPort.postMessage(hashSlices(workerData as HashThreadData));
}
