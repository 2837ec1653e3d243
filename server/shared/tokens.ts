import { createHash, randomBytes } from 'node:crypto';

/** A 256-bit random bearer secret with a readable prefix (so leaked tokens are greppable). */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Only this digest is stored: the token itself is high-entropy, so a fast hash is enough. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
