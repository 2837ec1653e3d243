import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';

/**
 * TOTP as authenticator apps implement it (RFC 6238 over RFC 4226): HMAC-SHA-1, 30-second
 * steps counted from the Unix epoch, 6 digits. Pure: no clock read unless given, no I/O.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of the current one still accepted (clock drift, a code typed as it rolled over). */
export const TOTP_WINDOW = 1;

/** A new 160-bit secret (RFC 4226's recommended length), as the base32 the apps read. */
export function newTotpSecret(): string {
  return new Secret({ buffer: randomBytes(20).buffer }).base32;
}

/** The `otpauth://totp/…` URI a QR code carries: issuer (the tenant) and label (the username). */
export function totpUri(opts: { issuer: string; label: string; secret: string }): string {
  return new TOTP({
    issuer: opts.issuer,
    label: opts.label,
    secret: Secret.fromBase32(opts.secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}

/** The time step of an instant. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of one step (HOTP of the step counter). */
export function totpCodeAt(secret: string, step: number): string {
  return HOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: TOTP_DIGITS, counter: step });
}

/** Whether `code` has the shape of a code (so a malformed one is refused before any secret is opened). */
export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code);
}

/**
 * The step `code` belongs to, within ±TOTP_WINDOW of `nowMs`, or null. Steps at or before
 * `lastUsedStep` never match: a code is accepted once, and never one older than an accepted
 * one (the caller stores the step it accepts, conditionally, to close the race).
 */
export function matchTotp(secret: string, code: string, nowMs: number, lastUsedStep: number | null): number | null {
  if (!isTotpCode(code)) return null;
  const now = totpStep(nowMs);
  const given = Buffer.from(code);
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step++) {
    if (lastUsedStep !== null && step <= lastUsedStep) continue;
    if (timingSafeEqual(Buffer.from(totpCodeAt(secret, step)), given)) return step;
  }
  return null;
}
