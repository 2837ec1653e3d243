import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The server key: AES-256-GCM for data that must be read back (uploaded CSVs with their
 * password column, TOTP secrets), as opposed to credentials, which are hashed.
 *
 * Where the key comes from, in order: `ROSTER_SECRET_KEY` (32 bytes, base64 or hex; required
 * when replicas share a database, since each must decrypt what another wrote), else a key
 * generated once under `DATA_DIR/secret.key` with owner-only permissions (0600).
 *
 * Rotation: set the new key in `ROSTER_SECRET_KEY` and the old one(s) in
 * `ROSTER_SECRET_KEY_PREVIOUS` (comma-separated). Sealed values carry the id of the key that
 * sealed them, so old values still open while new ones are sealed with the new key; re-sealing
 * happens as values are rewritten (uploads expire within a day anyway).
 */
export interface SecretBox {
  /** Encrypts `plaintext`; `context` (e.g. `upload:<id>`) is bound as associated data, so a value copied to another row does not open. */
  seal(plaintext: Buffer | string, context: string): Buffer;
  /** Decrypts a value from `seal` with the same `context`; throws `SecretBoxError` when it was tampered with, bound to another context, or sealed with an unknown key. */
  open(sealed: Buffer, context: string): Buffer;
  /** Short, non-secret fingerprint of the current key (logged at start-up so operators can tell keys apart). */
  readonly keyId: string;
}

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

const VERSION = 1;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

/** Parses a 32-byte key given as base64 (44 chars) or hex (64 chars). */
export function parseKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new SecretBoxError('a secret key must be 32 bytes, given as base64 or 64 hex digits');
  return key;
}

function keyIdOf(key: Buffer): Buffer {
  return createHash('sha256').update('roster-secret-key-id').update(key).digest().subarray(0, KEY_ID_BYTES);
}

/** A box over explicit keys: the first seals, all open. */
export function createSecretBox(keys: Buffer[]): SecretBox {
  if (keys.length === 0) throw new SecretBoxError('no secret key');
  const byId = new Map(keys.map((k) => [keyIdOf(k).toString('hex'), k]));
  const current = keys[0]!;
  const currentId = keyIdOf(current);
  return {
    keyId: currentId.toString('hex'),
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      // One copy of the ciphertext: sealed uploads are megabytes, and every transient copy of
      // that size is heap the allocator tends to keep (see docs/benchmarks.md, upload peak RSS).
      const body = cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext);
      const tail = cipher.final();
      return Buffer.concat([Buffer.from([VERSION]), currentId, iv, cipher.getAuthTag(), body, tail]);
    },
    open(sealed, context) {
      if (sealed.length < HEADER || sealed[0] !== VERSION) throw new SecretBoxError('not a sealed value');
      const key = byId.get(sealed.subarray(1, 1 + KEY_ID_BYTES).toString('hex'));
      if (!key) throw new SecretBoxError('sealed with a key this server does not have (see ROSTER_SECRET_KEY_PREVIOUS)');
      const iv = sealed.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
      const tag = sealed.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER);
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      try {
        const body = decipher.update(sealed.subarray(HEADER));
        const tail = decipher.final();
        return tail.length ? Buffer.concat([body, tail]) : body;
      } catch {
        throw new SecretBoxError('sealed value does not authenticate (tampered, or bound to another context)');
      }
    },
  };
}

/**
 * The process's box from configuration. Without `ROSTER_SECRET_KEY`, reads `<dataDir>/secret.key`
 * or creates it (exclusive create, mode 0600: two processes starting at once agree on one key).
 * `warn` is told when an existing key file is readable by others.
 */
export function loadSecretBox(opts: {
  secretKey?: string;
  previousKeys?: string;
  dataDir: string;
  warn?: (msg: string) => void;
}): SecretBox {
  const previous = (opts.previousKeys ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseKey);
  if (opts.secretKey) return createSecretBox([parseKey(opts.secretKey), ...previous]);
  const file = path.resolve(opts.dataDir, 'secret.key');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, randomBytes(32).toString('base64') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) opts.warn?.(`${file} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
  return createSecretBox([parseKey(fs.readFileSync(file, 'utf8')), ...previous]);
}
