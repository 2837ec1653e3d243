import { SecretBoxError, type SecretBox } from '../../shared/secret-key.js';

/**
 * Uploaded CSVs hold a password column and wait in the database for their job (up to a day),
 * so they are stored sealed with the server key, bound to their row (`upload:<id>`): a copy in
 * a backup or a dump is unreadable without the key, and a sealed file moved to another row
 * does not open.
 */
export function sealUpload(box: SecretBox, id: string, bytes: Buffer): Buffer {
  return box.seal(bytes, `upload:${id}`);
}

/** Why an upload cannot be read back: one message for the API and the job. */
export const UNREADABLE_UPLOAD =
  "The uploaded file cannot be decrypted with this server's key (it was sealed under another key: see ROSTER_SECRET_KEY_PREVIOUS); upload it again.";

/**
 * The CSV bytes (UTF-8) of a sealed upload, or `null` when it does not open (other key,
 * tampered, not sealed). Kept as bytes: outside the JS heap, and sliced per chunk as they are.
 */
export function openUpload(box: SecretBox, id: string, content: Buffer): Buffer | null {
  try {
    return box.open(content, `upload:${id}`);
  } catch (err) {
    if (err instanceof SecretBoxError) return null;
    throw err;
  }
}
