// A streaming LZ4 frame decoder (lz4_Frame_format.md) fed chunks split anywhere. It
// holds at most one block (the frame's maximum block size, <= 4 MiB) and, for linked
// blocks, the last 64 KiB of output. Checks everything the format lets it check: the
// header checksum, block checksums, the content checksum and the content size; a stream
// that ends inside a frame is an error. Concatenated frames and skippable frames are
// read in sequence, as the `lz4` CLI does (udp-sender --compress lz4 sends one frame
// per chunk).
//
// Frame:   magic 04 22 4D 18 | FLG | BD | [content size u64 LE] | [dict id u32 LE] | HC
//          blocks: size u32 LE (bit 31: stored uncompressed; 0: EndMark) | data | [xxh32 u32 LE]
//          [content checksum xxh32 u32 LE]
// FLG:     bits 7-6 version (01) | 5 block independence | 4 block checksum | 3 content size
//          | 2 content checksum | 1 reserved (0) | 0 dict id
// BD:      bits 6-4 block max size (4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB), others 0
// HC:      (xxh32(FLG .. dict id, seed 0) >> 8) & 0xFF
// Skippable frame: magic 0x184D2A50..5F (u32 LE) | size u32 LE | size bytes

import { type Lz4BlockDecoder, Lz4BlockError } from './lz4-block.js';
import { Xxh32, xxh32 } from './xxh32.js';

export const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_LEGACY_MAGIC = 0x184c2102;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const FLG_VERSION_SHIFT = 6;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BD_RESERVED = 0x8f;
const BLOCK_UNCOMPRESSED = 0x8000_0000;
const LINKED_DICT_BYTES = 64 << 10;
const EMPTY = new Uint8Array(0);
const MIN_CAPACITY = 64 << 10;

export class Lz4FrameError extends Error {
  readonly code = 'ERR_LZ4_FRAME';
  constructor(message: string) {
    super(message);
    this.name = 'Lz4FrameError';
  }
}

type State =
  | 'magic' // between frames: the next 4 bytes are a magic number
  | 'descriptor' // FLG and BD
  | 'descriptorRest' // content size, dict id, HC
  | 'blockSize'
  | 'block' // block data (+ checksum) into blockBuf
  | 'contentChecksum'
  | 'skipSize'
  | 'skip';

function u32le(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

export class Lz4FrameDecoder {
  private state: State = 'magic';
  /** Small fields gather here until `need` bytes are in. */
  private readonly field = new Uint8Array(16);
  private fieldHave = 0;
  private need = 4;
  private flg = 0;
  private bd = 0;
  private blockMaxBytes = 0;
  /** 4 bytes of headroom (the native decoder's size prefix), the block, its checksum. */
  private blockBuf = new Uint8Array(0);
  private blockHave = 0;
  private blockBytes = 0;
  private blockStored = false;
  private contentHash: Xxh32 | undefined;
  private contentSize: bigint | undefined;
  private frameOutBytes = 0;
  private dictTail: Uint8Array = EMPTY;
  /** Output bound given to a decoder that allocates it per block: follows the blocks' sizes. */
  private capacity = 0;
  private skipLeft = 0;
  private inBytes = 0;
  private frames = 0;
  outBytes = 0;

  constructor(private readonly decoder: Lz4BlockDecoder) {}

  get consumedBytes(): number {
    return this.inBytes;
  }

  private fail(what: string): never {
    throw new Lz4FrameError(`lz4: ${what} (compressed byte ${this.inBytes})`);
  }

  /** Feeds the next chunk; yields decoded output, each a buffer the caller may keep. */
  async *write(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
    let i = 0;
    const n = chunk.byteLength;
    while (i < n) {
      if (this.state === 'block') {
        const take = Math.min(this.need - this.blockHave, n - i);
        this.blockBuf.set(chunk.subarray(i, i + take), 4 + this.blockHave);
        this.blockHave += take;
        i += take;
        this.inBytes += take;
        if (this.blockHave === this.need) {
          const out = await this.decodeBlock();
          this.state = 'blockSize';
          this.need = 4;
          if (out.byteLength > 0) yield out;
        }
        continue;
      }
      if (this.state === 'skip') {
        const take = Math.min(this.skipLeft, n - i);
        this.skipLeft -= take;
        i += take;
        this.inBytes += take;
        if (this.skipLeft === 0) this.expectMagic();
        continue;
      }
      const take = Math.min(this.need - this.fieldHave, n - i);
      this.field.set(chunk.subarray(i, i + take), this.fieldHave);
      this.fieldHave += take;
      i += take;
      this.inBytes += take;
      if (this.fieldHave === this.need) {
        this.fieldHave = 0;
        this.onField();
      }
    }
  }

  /** The input ended: it must end between frames, after at least one. */
  end(): void {
    if (this.state !== 'magic' || this.fieldHave !== 0) {
      this.fail(`stream truncated inside a frame (${this.state === 'block' ? 'in a block' : `reading ${this.state}`})`);
    }
    if (this.frames === 0) this.fail('no LZ4 frame in the stream');
  }

  private expectMagic(): void {
    this.state = 'magic';
    this.need = 4;
  }

  private onField(): void {
    const f = this.field;
    switch (this.state) {
      case 'magic': {
        const magic = u32le(f, 0);
        if (magic === LZ4_FRAME_MAGIC) {
          this.state = 'descriptor';
          this.need = 2;
        } else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
          this.state = 'skipSize';
          this.need = 4;
        } else if (magic === LZ4_LEGACY_MAGIC) {
          this.fail('legacy LZ4 format (lz4 -l) is not supported');
        } else {
          this.fail(`not an LZ4 frame: magic ${magic.toString(16).padStart(8, '0')}`);
        }
        break;
      }
      case 'descriptor': {
        this.flg = f[0]!;
        this.bd = f[1]!;
        if (this.flg >>> FLG_VERSION_SHIFT !== 1) this.fail(`unsupported frame version ${this.flg >>> FLG_VERSION_SHIFT}`);
        if ((this.flg & FLG_RESERVED) !== 0 || (this.bd & BD_RESERVED) !== 0) this.fail('reserved bits set in the frame descriptor');
        if ((this.flg & FLG_DICT_ID) !== 0) this.fail('frames that need a dictionary are not supported');
        const sizeId = (this.bd >>> 4) & 7;
        if (sizeId < 4) this.fail(`invalid block size id ${sizeId}`);
        this.blockMaxBytes = 1 << (8 + 2 * sizeId);
        this.state = 'descriptorRest';
        this.need = ((this.flg & FLG_CONTENT_SIZE) !== 0 ? 8 : 0) + 1; // + HC
        break;
      }
      case 'descriptorRest': {
        const hasSize = (this.flg & FLG_CONTENT_SIZE) !== 0;
        const desc = new Uint8Array(2 + (hasSize ? 8 : 0));
        desc[0] = this.flg;
        desc[1] = this.bd;
        if (hasSize) desc.set(f.subarray(0, 8), 2);
        const hc = f[this.need - 1];
        if (((xxh32(desc) >>> 8) & 0xff) !== hc) this.fail('frame header checksum mismatch');
        this.contentSize = hasSize ? new DataView(desc.buffer).getBigUint64(2, true) : undefined;
        const want = 4 + this.blockMaxBytes + 4;
        if (this.blockBuf.byteLength < want) this.blockBuf = new Uint8Array(want);
        this.contentHash = (this.flg & FLG_CONTENT_CHECKSUM) !== 0 ? new Xxh32() : undefined;
        this.frameOutBytes = 0;
        this.dictTail = EMPTY;
        // Concatenated frames (udp-sender --compress lz4) keep the size learnt so far.
        this.capacity = this.capacity === 0 ? this.blockMaxBytes : Math.min(this.capacity, this.blockMaxBytes);
        this.state = 'blockSize';
        this.need = 4;
        break;
      }
      case 'blockSize': {
        const v = u32le(f, 0);
        if (v === 0) {
          if (this.contentHash !== undefined) {
            this.state = 'contentChecksum';
            this.need = 4;
          } else {
            this.endFrame();
          }
          break;
        }
        this.blockStored = (v & BLOCK_UNCOMPRESSED) !== 0;
        this.blockBytes = (v & ~BLOCK_UNCOMPRESSED) >>> 0;
        if (this.blockBytes > this.blockMaxBytes) this.fail(`block of ${this.blockBytes} bytes exceeds the frame's maximum ${this.blockMaxBytes}`);
        this.state = 'block';
        this.blockHave = 0;
        this.need = this.blockBytes + ((this.flg & FLG_BLOCK_CHECKSUM) !== 0 ? 4 : 0);
        break;
      }
      case 'contentChecksum': {
        const want = u32le(f, 0);
        const got = this.contentHash!.digest();
        if (want !== got) this.fail(`content checksum mismatch (frame says ${hex(want)}, data has ${hex(got)})`);
        this.endFrame();
        break;
      }
      case 'skipSize': {
        this.skipLeft = u32le(f, 0);
        if (this.skipLeft === 0) this.expectMagic();
        else this.state = 'skip';
        break;
      }
      default:
        throw new Error(`unreachable state ${this.state}`);
    }
  }

  private endFrame(): void {
    if (this.contentSize !== undefined && BigInt(this.frameOutBytes) !== this.contentSize) {
      this.fail(`frame content size mismatch (header says ${this.contentSize}, got ${this.frameOutBytes} bytes)`);
    }
    this.frames++;
    this.expectMagic();
  }

  private async decodeBlock(): Promise<Uint8Array> {
    const data = this.blockBuf.subarray(4, 4 + this.blockBytes);
    if ((this.flg & FLG_BLOCK_CHECKSUM) !== 0) {
      const want = u32le(this.blockBuf, 4 + this.blockBytes);
      if (xxh32(data) !== want) this.fail('block checksum mismatch');
    }
    let out: Uint8Array;
    if (this.blockStored) {
      out = data.slice(); // blockBuf is reused for the next block
    } else {
      const dict = (this.flg & FLG_BLOCK_INDEPENDENT) === 0 ? this.dictTail : EMPTY;
      try {
        out = await this.decodeAdaptive(data, dict);
      } catch (e) {
        if (e instanceof Lz4BlockError) this.fail(e.message.replace(/^corrupt LZ4 block: /, 'corrupt block: '));
        throw e;
      }
    }
    if ((this.flg & FLG_BLOCK_INDEPENDENT) === 0) this.keepDict(out);
    this.contentHash?.update(out);
    this.frameOutBytes += out.byteLength;
    this.outBytes += out.byteLength;
    return out;
  }

  /**
   * Frames often declare a larger maximum than their blocks use (lz4_flex writes 4 MiB
   * for any input): a decoder that allocates the bound gets the size of the previous
   * block (rounded up to a power of two, >= 64 KiB) and, if that is too small, the
   * frame's maximum. A block corrupt at the maximum is corrupt.
   */
  private async decodeAdaptive(data: Uint8Array, dict: Uint8Array): Promise<Uint8Array> {
    if (!this.decoder.wantsTightCapacity || this.capacity >= this.blockMaxBytes) {
      const out = await this.decoder.decode(data, dict, this.blockMaxBytes);
      this.follow(out.byteLength);
      return out;
    }
    let out: Uint8Array;
    try {
      out = await this.decoder.decode(data, dict, this.capacity);
    } catch {
      out = await this.decoder.decode(data, dict, this.blockMaxBytes);
    }
    this.follow(out.byteLength);
    return out;
  }

  private follow(blockOutBytes: number): void {
    let c = MIN_CAPACITY;
    while (c < blockOutBytes) c *= 2;
    this.capacity = Math.min(this.blockMaxBytes, c);
  }

  /** Linked blocks may copy from the 64 KiB of output before them. */
  private keepDict(out: Uint8Array): void {
    if (out.byteLength >= LINKED_DICT_BYTES) {
      this.dictTail = out.subarray(out.byteLength - LINKED_DICT_BYTES);
      return;
    }
    const keep = Math.min(this.dictTail.byteLength, LINKED_DICT_BYTES - out.byteLength);
    const d = new Uint8Array(keep + out.byteLength);
    d.set(this.dictTail.subarray(this.dictTail.byteLength - keep), 0);
    d.set(out, keep);
    this.dictTail = d;
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
