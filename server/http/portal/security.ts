import { randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { NextFunction, Request, Response } from 'express';

export const CSRF_COOKIE = 'roster_csrf';
export const SESSION_COOKIE = 'roster_portal_session';
export const LINK_COOKIE = 'roster_portal_link';
/** The MFA enrolment link's grant (path `/portal/mfa`): a name of its own, so it never meets an IdP portal's. */
export const MFA_LINK_COOKIE = 'roster_mfa_link';

/**
 * No inline script or style at all (the page's one script and one stylesheet are files of the
 * server), no framing, forms post only to this origin, and no Referer ever leaves a portal page.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The authenticator-app page shows its QR code as an inline PNG: the same policy, plus data: images. */
export const QR_PAGE_CSP = CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:");

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
  next();
}

export function cookiesOf(req: Request): Record<string, string | undefined> {
  const header = req.headers.cookie;
  return header ? parseCookies(header) : {};
}

/** httpOnly, SameSite=Lax, and Secure whenever the request came over https (req.secure honours TRUST_PROXY). */
export function setCookie(req: Request, res: Response, name: string, value: string, opts: { path: string; maxAgeMs?: number }): void {
  res.cookie(name, value, {
    httpOnly: true,
    sameSite: 'lax',
    secure: req.secure,
    path: opts.path,
    ...(opts.maxAgeMs !== undefined ? { maxAge: opts.maxAgeMs } : {}),
  });
}

export function clearCookie(req: Request, res: Response, name: string, path: string): void {
  res.clearCookie(name, { httpOnly: true, sameSite: 'lax', secure: req.secure, path });
}

/**
 * CSRF, double-submit: a random value in an httpOnly cookie (the pre-session, set on the first
 * page) is repeated in every form; a POST whose field does not match the cookie is refused. The
 * cookie is SameSite=Lax, and a browser-declared cross-site origin is refused outright.
 */
export function csrfTokenFor(req: Request, res: Response): string {
  const existing = cookiesOf(req)[CSRF_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  setCookie(req, res, CSRF_COOKIE, token, { path: '/portal' });
  return token;
}

export function csrfOk(req: Request): boolean {
  const site = req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` on their own form posts,
  // so only a real, different origin is refused here; the token decides the rest.
  const origin = req.header('origin');
  if (origin && origin !== 'null' && origin !== `${req.protocol}://${req.get('host')}`) return false;
  const cookie = cookiesOf(req)[CSRF_COOKIE];
  const body = (req.body as Record<string, unknown> | undefined)?.['_csrf'];
  if (!cookie || typeof body !== 'string') return false;
  const a = Buffer.from(cookie);
  const b = Buffer.from(body);
  return a.length === b.length && timingSafeEqual(a, b);
}
