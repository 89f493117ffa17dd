// --key-file: reading and checking the key file, and deriving the keys sealing uses
// (common/auth/seal.ts) from its secret with HKDF.

import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { oneLine, UsageError } from '../errors.js';

export interface AuthKeys {
  /** HMAC-SHA-256 key (mac mode). */
  readonly macKey: KeyObject;
  /** AES-256-GCM key (encrypt mode). */
  readonly encKey: KeyObject;
  /** 16 hex digits derived from the secret, safe to log: equal on both sides iff the keys are. */
  readonly fingerprint: string;
}

export const MIN_SECRET_BYTES = 16;
/** Larger files are not key files (a device, an image given by mistake). */
export const MAX_KEY_FILE_BYTES = 4096;

// HKDF (RFC 5869) with a fixed salt and one label per use: the raw secret never keys an
// algorithm itself, and the MAC key and the encryption key are independent.
const HKDF_SALT = Buffer.from('rackcast key-file v1', 'latin1');
const INFO_MAC = Buffer.from('rackcast hmac-sha256 datagram tag', 'latin1');
const INFO_ENC = Buffer.from('rackcast aes-256-gcm datagram key', 'latin1');
const INFO_FINGERPRINT = Buffer.from('rackcast key fingerprint', 'latin1');

export function deriveAuthKeys(secret: Uint8Array): AuthKeys {
  if (secret.byteLength < MIN_SECRET_BYTES) throw new RangeError(`a secret needs at least ${MIN_SECRET_BYTES} bytes, got ${secret.byteLength}`);
  const derive = (info: Buffer, bytes: number): Buffer => Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, info, bytes));
  return Object.freeze({
    macKey: createSecretKey(derive(INFO_MAC, 32)),
    encKey: createSecretKey(derive(INFO_ENC, 32)),
    fingerprint: derive(INFO_FINGERPRINT, 8).toString('hex'),
  });
}

const OPEN_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ELOOP: 'too many symbolic links',
  ENOTDIR: 'a path component is not a directory',
};

/**
 * Reads a --key-file: the secret is the file's bytes, less trailing CR/LF (so a key written
 * with `echo` or an editor matches one written with printf). Refuses, with a one-line
 * UsageError naming the file, a file that cannot be read, is not a regular file, is readable
 * by group or others (as ssh refuses a private key), or holds fewer than 16 bytes of secret.
 */
export async function loadKeyFile(path: string): Promise<AuthKeys> {
  const name = `--key-file ${path}`;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${name}: cannot read it: ${(code !== undefined && OPEN_ERRORS[code]) || oneLine(e)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UsageError(`${name}: not a regular file`);
    const perm = st.mode & 0o777;
    if ((perm & 0o077) !== 0) {
      const octal = perm.toString(8).padStart(4, '0');
      throw new UsageError(
        `${name}: permissions ${octal} are too open: a key file must not be accessible by group or others; refusing to use it (chmod 600 ${path})`,
      );
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new UsageError(`${name}: ${st.size} bytes is too long for a key file (at most ${MAX_KEY_FILE_BYTES})`);
    const raw = await fh.readFile();
    let end = raw.byteLength;
    while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
    if (end < MIN_SECRET_BYTES) {
      throw new UsageError(
        `${name}: ${end} bytes of secret, at least ${MIN_SECRET_BYTES} needed (make one with: (umask 077; head -c 32 /dev/urandom > ${path}))`,
      );
    }
    const keys = deriveAuthKeys(raw.subarray(0, end));
    raw.fill(0);
    return keys;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${name}: cannot read it: ${oneLine(e)}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
