// The session this receiver takes part in, as the first valid HELLO announced it: who
// sends (the one address whose control messages count, and the endpoint our feedback goes
// to), the slice geometry, how many slices the sender retains, its capabilities and the
// data group; and, once END says, the image's exact size and digest. It is made on that HELLO and handed to every component
// that needs it when the component is made, so no code can run before there is a session.

import type { Endpoint } from '../../protocol/endpoint.js';
import { type Geometry, totalSlices } from '../../protocol/geometry.js';
import {
  CAP_ASYNC,
  CAP_CATCH_UP,
  CAP_CLONE_REPORTS,
  CAP_IMAGE_COMPRESSED,
  CAP_MORE_PASSES,
  CAP_PARITY_REPAIR,
  CAP_STREAMING,
  u32ToIpv4,
} from '../../protocol/header.js';
import type { End } from '../../protocol/messages/end.js';
import { type Hello, HelloPhase, IMAGE_BYTES_UNKNOWN } from '../../protocol/messages/hello.js';

/**
 * The most an --async receiver holds (Session.holdSlices): the whole of a 256 MiB image, or
 * 256 MiB of a larger one. The slice memory is reserved for it at once, but the pages are
 * touched only by slices actually held.
 */
export const ASYNC_HOLD_BYTES = 256 << 20;

export class Session {
  readonly sessionId: number;
  readonly senderAddress: string;
  /** Where our STATUS, JOIN, REPORT and LEAVE go: the sender's control socket, which sent the HELLO. */
  readonly senderControl: Endpoint;
  readonly dataGroup: string;
  readonly dataPort: number;
  /** The sender never runs more than this many slices past the slowest receiver. */
  readonly retainSlices: number;
  /**
   * Our window: how many slices from the next to deliver we hold, and take DATA for. The
   * sender's retainSlices, since its flow window never runs further past us; but with
   * --async nothing holds the sender back. There a receiver that waits for a slice (it came
   * up mid-pass and lacks the head, or a stripe lost beyond its parity waits for the next
   * pass of a carousel) would let go of everything the pass sends past retainSlices, and
   * then have only the next pass for all of it: one chance instead of two. So --async
   * holds the whole image, up to ASYNC_HOLD_BYTES (and maxRetainBytes) of slices.
   */
  readonly holdSlices: number;
  /** --async: no return channel. We send nothing, and a slice we cannot rebuild fails us. */
  readonly async: boolean;
  /** --streaming: the sender takes receivers after the transfer has started. */
  readonly streaming: boolean;
  /** The sender waits for a CLONE_REPORT from a receiver that is part of a clone (CAP_CLONE_REPORTS). */
  readonly cloneReports: boolean;
  /** The sender serves a catch-up pass (it can read its source again). */
  readonly catchUpOffered: boolean;
  /** The image begins with a gzip or LZ4 stream's magic: decompressed by magic, it is taken only in order. */
  readonly imageCompressed: boolean;
  /** The HELLO said the transfer was under way: nothing counts before our ACCEPT names our first slice. */
  readonly late: boolean;
  /**
   * --async with a carousel: the latest HELLO said the image comes again after this pass,
   * so a slice we cannot rebuild now is not lost yet.
   */
  private more: boolean;
  private geometry: Geometry;
  private endMsg: End | undefined;

  /**
   * The session a HELLO announces, or why we cannot take part: the sender offers no
   * parity repair (ERR_BAD_FIELD), or it would have us hold more than maxRetainBytes.
   */
  static open(from: Endpoint, hello: Hello, maxRetainBytes: number): Session | 'ERR_BAD_FIELD' | 'ERR_SESSION_TOO_LARGE' {
    if ((hello.caps & CAP_PARITY_REPAIR) === 0) return 'ERR_BAD_FIELD';
    const retainBytes = hello.retainSlices * hello.sliceBlocks * hello.blockBytes;
    if (retainBytes > maxRetainBytes) return 'ERR_SESSION_TOO_LARGE';
    return new Session(from, hello, maxRetainBytes);
  }

  private constructor(from: Endpoint, hello: Hello, maxRetainBytes: number) {
    this.sessionId = hello.sessionId;
    this.senderAddress = from.address;
    this.senderControl = { address: from.address, port: from.port };
    this.dataGroup = u32ToIpv4(hello.dataGroup);
    this.dataPort = hello.dataPort;
    this.retainSlices = hello.retainSlices;
    this.async = (hello.caps & CAP_ASYNC) !== 0;
    this.streaming = (hello.caps & CAP_STREAMING) !== 0;
    this.cloneReports = (hello.caps & CAP_CLONE_REPORTS) !== 0;
    this.catchUpOffered = (hello.caps & CAP_CATCH_UP) !== 0;
    this.imageCompressed = (hello.caps & CAP_IMAGE_COMPRESSED) !== 0;
    this.late = !this.async && hello.phase !== HelloPhase.Announcing;
    this.more = this.async && (hello.caps & CAP_MORE_PASSES) !== 0;
    this.geometry = {
      blockBytes: hello.blockBytes,
      sliceBlocks: hello.sliceBlocks,
      stripes: hello.stripes,
      imageBytes: hello.imageBytes,
    };
    this.holdSlices = this.retainSlices;
    if (this.async) {
      const slices = Math.floor(Math.min(ASYNC_HOLD_BYTES, maxRetainBytes) / (hello.sliceBlocks * hello.blockBytes));
      const image = hello.imageBytes === IMAGE_BYTES_UNKNOWN ? Infinity : totalSlices(this.geometry, hello.imageBytes);
      this.holdSlices = Math.max(this.retainSlices, Math.min(slices, image));
    }
  }

  /** A carousel will send the image again after the pass under way (see `more`). */
  get morePasses(): boolean {
    return this.more;
  }

  /** A later HELLO of the session; true when it says the last pass has begun (it did not before). */
  lastPassBegan(hello: Hello): boolean {
    const more = this.async && (hello.caps & CAP_MORE_PASSES) !== 0;
    const began = this.more && !more;
    this.more = more;
    return began;
  }

  /** imageBytes is IMAGE_BYTES_UNKNOWN until HELLO or END says. */
  get geo(): Geometry {
    return this.geometry;
  }

  /** The sender's END (the image's size and digest), once heard. */
  get end(): End | undefined {
    return this.endMsg;
  }

  /** The image's size, if HELLO or END has told it. */
  knownImageBytes(): number | undefined {
    return this.geometry.imageBytes === IMAGE_BYTES_UNKNOWN ? undefined : this.geometry.imageBytes;
  }

  /**
   * Takes the first END: from here on the image's size is known. False (and nothing
   * changes) when it contradicts what HELLO said.
   */
  learnEnd(e: End): boolean {
    const g = this.geometry;
    const sizeKnown = g.imageBytes !== IMAGE_BYTES_UNKNOWN;
    if ((sizeKnown && e.totalBytes !== g.imageBytes) || e.totalSlices !== totalSlices(g, e.totalBytes)) return false;
    this.endMsg = e;
    this.geometry = { ...g, imageBytes: e.totalBytes };
    return true;
  }
}
