// udpcast's wire protocol (Debian's udpcast 20120424 and every later release): what every
// message file here shares. The message layouts are in one file each (hello.ts,
// connect-req.ts, ...); the whole protocol, quirks included, is described in
// docs/udpcast-wire.md. All integers are big-endian; bitmaps are LSB-first (item i is bit
// i & 7 of byte i >> 3). udpcast sends C structs as raw bytes: fields it leaves
// uninitialized (stack garbage) are ignored by every decoder here and written as zeros.
//
// Ports: receivers bind portbase (RECEIVER_PORT), the sender binds portbase + 1; every
// datagram leaves from its side's bound port.

/** Opcodes (u16 at offset 0). 5 is never sent: its little-endian bytes are HELLO's. */
export const OP_OK = 0;
export const OP_RETRANSMIT = 1;
export const OP_GO = 2;
export const OP_CONNECT_REQ = 3;
export const OP_DISCONNECT = 4;
export const OP_REQACK = 6;
export const OP_CONNECT_REPLY = 7;
export const OP_DATA = 8;
export const OP_FEC = 9;
export const OP_HELLO_NEW = 10;
export const OP_HELLO_STREAMING = 11;
/** The HELLO stock senders send: the bytes `05 00` of the old host-order opcode 5, read big-endian. */
export const OP_HELLO = 0x0500;

export const OPCODE_NAMES: Readonly<Record<number, string>> = {
  [OP_OK]: 'OK',
  [OP_RETRANSMIT]: 'RETRANSMIT',
  [OP_GO]: 'GO',
  [OP_CONNECT_REQ]: 'CONNECT_REQ',
  [OP_DISCONNECT]: 'DISCONNECT',
  [OP_REQACK]: 'REQACK',
  [OP_CONNECT_REPLY]: 'CONNECT_REPLY',
  [OP_DATA]: 'DATA',
  [OP_FEC]: 'FEC',
  [OP_HELLO_NEW]: 'HELLO_NEW',
  [OP_HELLO_STREAMING]: 'HELLO_STREAMING',
  [OP_HELLO]: 'HELLO',
};

/** Capabilities (HELLO, CONNECT_REQ, CONNECT_REPLY). */
export const CAP_NEW_GEN = 0x01;
/** Defined, never sent by stock peers: receivers switch FEC on at the first FEC datagram. */
export const CAP_FEC = 0x04;
export const CAP_BIG_ENDIAN = 0x08;
/** HELLO only: no return channel; receivers become passive. */
export const CAP_ASYNC = 0x20;
/** What a stock sender announces, and what this one does. */
export const SENDER_CAPABILITIES = CAP_NEW_GEN | CAP_BIG_ENDIAN;

/** Blocks per slice: the receiver's bitmaps are 128 bytes and index blocks unchecked. */
export const MAX_SLICE_BLOCKS = 1024;
export const BITMAP_BYTES = MAX_SLICE_BLOCKS / 8;
/** Participants (clNr 0..1023); REQACK's readySet has one bit each. */
export const MAX_CLIENTS = 1024;
export const READY_SET_BYTES = MAX_CLIENTS / 8;
/** FEC: stripes per slice (the receiver's MAX_FEC_INTERLEAVE), rows per stripe, data blocks per stripe. */
export const MAX_FEC_STRIPES = 256;
export const MAX_FEC_ROWS = 128;
export const MAX_STRIPE_BLOCKS = 128;
/** 16-byte DATA header + 1456 = 1472 bytes: one datagram in a 1500-byte MTU. */
export const DEFAULT_BLOCK_BYTES = 1456;

export const OFF_OPCODE = 0;
export const OPCODE_BYTES = 2;

export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The opcode of a datagram, or undefined if it is shorter than one. */
export function opcodeOf(bytes: Uint8Array): number | undefined {
  return bytes.byteLength < OPCODE_BYTES ? undefined : view(bytes).getUint16(OFF_OPCODE, false);
}

/** Dotted IPv4 → 4 bytes at off. Throws RangeError on anything else (caller misuse). */
export function writeIpv4(address: string, buf: Uint8Array, off: number): void {
  const parts = address.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${address}`);
  for (let i = 0; i < 4; i++) {
    const n = Number(parts[i]);
    if (!/^\d{1,3}$/.test(parts[i]!) || n > 255) throw new RangeError(`not an IPv4 address: ${address}`);
    buf[off + i] = n;
  }
}

export function readIpv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** LSB-first bitmaps, as udpcast's BIT_ISSET/SET_BIT. Indices are the caller's to range-check. */
export function bitIsSet(map: Uint8Array, i: number): boolean {
  return (map[i >> 3]! & (1 << (i & 7))) !== 0;
}

export function setBit(map: Uint8Array, i: number): void {
  map[i >> 3]! |= 1 << (i & 7);
}

export function clearBit(map: Uint8Array, i: number): void {
  map[i >> 3]! &= ~(1 << (i & 7));
}
