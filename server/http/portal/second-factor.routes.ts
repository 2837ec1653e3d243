import { Router, type Request, type Response } from 'express';
import type { PendingSecondFactor, Portal } from '../../modules/end-user-session/end-user-session.service.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { bodyField, cookiePath, csrfRefused, headerOf, portalSession, queryTenant, send, type PortalRouteContext } from './helpers.js';
import { secondFactorPage } from './mfa-pages.js';
import { portalPath } from './pages.js';
import { csrfOk, csrfTokenFor, SESSION_COOKIE, setCookie } from './security.js';

/**
 * The second step of a portal sign-in (`/:idp/verify`), for a session the right password left
 * `PENDING_SECOND_FACTOR`: a code from the authenticator app, a security key (the options come
 * from `verify/webauthn-options`, the assertion is posted back as a form field) or a bypass
 * code. Verification is `verifyMfa`'s service, so its lock and replay rules apply.
 */
export function secondFactorRoutes({ services }: PortalRouteContext): Router {
  const router = Router();

  /** The portal and its pending sign-in, or an answer already sent (404, or back to sign-in; for the script, JSON). */
  const pendingOf = async (req: Request, res: Response, json = false): Promise<{ portal: Portal; pending: PendingSecondFactor } | null> => {
    const s = await portalSession(
      services,
      req,
      res,
      (token, portal) => services.endUserSessions.resolvePending(token, portal),
      json ? () => res.status(401).json({ error: 'Sign in again.' }) : undefined,
    );
    return s && { portal: s.portal, pending: s.session };
  };

  const page = (req: Request, res: Response, p: { portal: Portal; pending: PendingSecondFactor }, status: number, error?: string) =>
    send(
      res,
      status,
      secondFactorPage({
        header: headerOf(p.portal),
        idpName: p.portal.name,
        tenantSlug: queryTenant(req),
        csrf: csrfTokenFor(req, res),
        totp: p.pending.factor.totp,
        webauthn: p.pending.factor.webauthn,
        error: error ?? null,
      }),
    );

  router.get('/:idp/verify', async (req, res) => {
    const p = await pendingOf(req, res);
    if (p) page(req, res, p, 200);
  });

  router.post('/:idp/verify', async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const p = await pendingOf(req, res);
    if (!p) return;
    const given = (name: string) => bodyField(req, name).trim() || null;
    const input = { code: given('code'), bypassCode: given('bypassCode'), webauthnResponse: given('webauthnResponse') };
    if (!input.code && !input.bypassCode && !input.webauthnResponse) return page(req, res, p, 400, 'Enter the code.');
    let outcome;
    try {
      outcome = await services.endUserSessions.completeSecondFactor(p.pending, input);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const e = err.errors[0]!;
      if (e.code === ErrorCode.TOKEN_INVALID) return res.redirect(303, portalPath(p.portal.name, 'sign-in', queryTenant(req)));
      // A malformed code is the user's typo; a suspended factor or a disabled key is the administrator's to fix.
      return page(
        req,
        res,
        p,
        e.code === ErrorCode.INVALID_INPUT ? 400 : 403,
        e.code === ErrorCode.INVALID_INPUT ? e.message : `${e.message} Contact your administrator.`,
      );
    }
    if (outcome.result !== 'VERIFIED') {
      if (outcome.result === 'REJECTED') return page(req, res, p, 401, 'That did not verify: the code is wrong, expired or already used.');
      const minutes = Math.max(1, Math.ceil((outcome.retryAfter ?? 60) / 60));
      return page(
        req,
        res,
        p,
        429,
        `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}, or ask your administrator.`,
      );
    }
    setCookie(req, res, SESSION_COOKIE, outcome.token, { path: cookiePath(p.portal), maxAgeMs: outcome.expiresAt.getTime() - Date.now() });
    res.redirect(303, portalPath(p.portal.name, 'account', queryTenant(req)));
  });

  // JSON for the page's script: the request options for navigator.credentials.get.
  router.post('/:idp/verify/webauthn-options', async (req, res) => {
    if (!csrfOk(req)) {
      res.status(403).json({ error: 'Reload the page and try again.' });
      return;
    }
    const p = await pendingOf(req, res, true);
    if (!p) return;
    try {
      const { optionsJson } = await services.endUserSessions.webauthnOptions(p.pending);
      res.type('application/json').send(optionsJson);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      res.status(409).json({ error: err.errors[0]!.message });
    }
  });

  return router;
}
