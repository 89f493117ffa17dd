// XXH32 (Yann Collet's xxHash, 32-bit), streaming: the checksum of the LZ4 frame format
// (frame descriptor HC byte, block checksums, content checksum). Follows the reference
// xxhash.c: four lanes over 16-byte stripes, a tail of 4-byte words then single bytes.

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  acc = (acc + Math.imul(lane, P2)) | 0;
  acc = rotl(acc, 13);
  return Math.imul(acc, P1);
}

function u32le(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

export class Xxh32 {
  private v1: number;
  private v2: number;
  private v3: number;
  private v4: number;
  private totalBytes = 0;
  /** Up to 15 bytes that did not fill a 16-byte stripe yet. */
  private readonly tail = new Uint8Array(16);
  private tailBytes = 0;

  constructor(private readonly seed = 0) {
    this.v1 = (seed + P1 + P2) | 0;
    this.v2 = (seed + P2) | 0;
    this.v3 = seed | 0;
    this.v4 = (seed - P1) | 0;
  }

  update(data: Uint8Array): this {
    let i = 0;
    const n = data.byteLength;
    this.totalBytes += n;
    if (this.tailBytes > 0) {
      const take = Math.min(16 - this.tailBytes, n);
      this.tail.set(data.subarray(0, take), this.tailBytes);
      this.tailBytes += take;
      i = take;
      if (this.tailBytes < 16) return this;
      this.stripe(this.tail, 0);
      this.tailBytes = 0;
    }
    let v1 = this.v1;
    let v2 = this.v2;
    let v3 = this.v3;
    let v4 = this.v4;
    const limit = n - 16;
    for (; i <= limit; i += 16) {
      v1 = round(v1, u32le(data, i));
      v2 = round(v2, u32le(data, i + 4));
      v3 = round(v3, u32le(data, i + 8));
      v4 = round(v4, u32le(data, i + 12));
    }
    this.v1 = v1;
    this.v2 = v2;
    this.v3 = v3;
    this.v4 = v4;
    if (i < n) {
      this.tail.set(data.subarray(i), 0);
      this.tailBytes = n - i;
    }
    return this;
  }

  private stripe(b: Uint8Array, i: number): void {
    this.v1 = round(this.v1, u32le(b, i));
    this.v2 = round(this.v2, u32le(b, i + 4));
    this.v3 = round(this.v3, u32le(b, i + 8));
    this.v4 = round(this.v4, u32le(b, i + 12));
  }

  /** The hash of everything so far, as an unsigned 32-bit number. Does not reset. */
  digest(): number {
    let h: number;
    if (this.totalBytes >= 16) {
      h = (rotl(this.v1, 1) + rotl(this.v2, 7) + rotl(this.v3, 12) + rotl(this.v4, 18)) | 0;
    } else {
      h = (this.seed + P5) | 0;
    }
    h = (h + this.totalBytes) | 0; // the reference adds the length modulo 2^32
    const t = this.tail;
    let i = 0;
    for (; i + 4 <= this.tailBytes; i += 4) {
      h = (h + Math.imul(u32le(t, i), P3)) | 0;
      h = Math.imul(rotl(h, 17), P4);
    }
    for (; i < this.tailBytes; i++) {
      h = (h + Math.imul(t[i]!, P5)) | 0;
      h = Math.imul(rotl(h, 11), P1);
    }
    h ^= h >>> 15;
    h = Math.imul(h, P2);
    h ^= h >>> 13;
    h = Math.imul(h, P3);
    h ^= h >>> 16;
    return h >>> 0;
  }
}

export function xxh32(data: Uint8Array, seed = 0): number {
  return new Xxh32(seed).update(data).digest();
}
