import express, { Router, type Request, type Response } from 'express';
import { SIGN_IN_FAILED, type Portal } from '../../modules/end-user-session/end-user-session.service.js';
import type { Services } from '../../services.js';
import { newRequestClient } from '../../shared/client.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { portalAssets } from './assets.js';
import { accountRoutes } from './account.routes.js';
import { linkRoutes } from './link.routes.js';
import { enrollRoutes } from './mfa-enroll.routes.js';
import { secondFactorRoutes } from './second-factor.routes.js';
import { bodyField, cookiePath, csrfRefused, headerOf, noSuchPortal, param, queryTenant, send } from './helpers.js';
import { messagePage, portalPath, signInPage } from './pages.js';
import { clearCookie, cookiesOf, csrfOk, csrfTokenFor, securityHeaders, SESSION_COOKIE, setCookie } from './security.js';

/**
 * The end-user login portal, `/portal/<idp name>/…`: server-rendered pages that work without
 * JavaScript, calling the same services as the GraphQL API (one rule set).
 */
export function portalRoutes(services: Services, log: Logger): Router {
  const router = Router();
  router.use(securityHeaders);
  router.use(portalAssets());
  router.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }));

  const ctx = { services, log };

  /** The portal of the URL, or an answer already sent (404 / ask for the tenant). */
  const portalOf = async (req: Request): Promise<{ portal: Portal } | { ambiguous: true } | null> =>
    services.endUserSessions.portal(param(req, 'idp'), queryTenant(req));

  router.get('/:idp', (req, res) => res.redirect(303, portalPath(param(req, 'idp'), 'sign-in', queryTenant(req))));

  router.get('/:idp/sign-in', async (req, res) => {
    const found = await portalOf(req);
    if (!found) return noSuchPortal(res);
    const csrf = csrfTokenFor(req, res);
    if ('portal' in found) {
      const viewer = await services.endUserSessions.resolve(cookiesOf(req)[SESSION_COOKIE], found.portal);
      if (viewer) return res.redirect(303, portalPath(found.portal.name, 'account', queryTenant(req)));
      const pending = await services.endUserSessions.resolvePending(cookiesOf(req)[SESSION_COOKIE], found.portal);
      if (pending) return res.redirect(303, portalPath(found.portal.name, 'verify', queryTenant(req)));
    }
    const notice = req.query['signed-out'] !== undefined ? 'You are signed out.' : null;
    send(
      res,
      200,
      signInPage({
        header: 'portal' in found ? headerOf(found.portal) : null,
        idpName: param(req, 'idp'),
        csrf,
        askTenant: !('portal' in found),
        tenantSlug: queryTenant(req),
        notice,
      }),
    );
  });

  router.post('/:idp/sign-in', async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const found = await portalOf(req);
    if (!found) return noSuchPortal(res);
    const csrf = csrfTokenFor(req, res);
    const login = bodyField(req, 'login');
    const again = (error: string, status = 401) =>
      send(
        res,
        status,
        signInPage({
          header: 'portal' in found ? headerOf(found.portal) : null,
          idpName: param(req, 'idp'),
          csrf,
          askTenant: !('portal' in found),
          tenantSlug: queryTenant(req),
          login,
          error,
        }),
      );
    if (!('portal' in found)) return again('Enter your organisation’s account id.');
    try {
      const signedIn = await services.endUserSessions.signIn(newRequestClient(req.ip), found.portal, {
        login,
        password: bodyField(req, 'password'),
      });
      setCookie(req, res, SESSION_COOKIE, signedIn.token, {
        path: cookiePath(found.portal),
        maxAgeMs: signedIn.expiresAt.getTime() - Date.now(),
      });
      // With an enrolled second factor the session is only pending: its page, not the account.
      const next = signedIn.stage === 'PENDING_SECOND_FACTOR' ? 'verify' : 'account';
      res.redirect(303, portalPath(found.portal.name, next, queryTenant(req)));
    } catch (err) {
      if (err instanceof DomainError && err.errors.some((e) => e.code === ErrorCode.INVALID_CREDENTIALS)) {
        return again(SIGN_IN_FAILED);
      }
      // The password was right, but the second factor cannot be chosen (see MfaPortalService.factorOf).
      if (err instanceof DomainError && err.errors[0]?.code === ErrorCode.INVALID_STATE) return again(err.errors[0].message, 403);
      throw err;
    }
  });

  router.post('/:idp/sign-out', async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const found = await portalOf(req);
    if (found && 'portal' in found) {
      const token = cookiesOf(req)[SESSION_COOKIE];
      const viewer =
        (await services.endUserSessions.resolve(token, found.portal)) ??
        (await services.endUserSessions.resolvePending(token, found.portal));
      if (viewer) await services.endUserSessions.signOut(viewer);
      clearCookie(req, res, SESSION_COOKIE, cookiePath(found.portal));
    }
    res.redirect(303, `${portalPath(param(req, 'idp'), 'sign-in', queryTenant(req))}${queryTenant(req) ? '&' : '?'}signed-out`);
  });

  router.use(enrollRoutes(ctx));
  router.use(secondFactorRoutes(ctx));
  router.use(accountRoutes(ctx));
  router.use(linkRoutes(ctx));

  router.use((_req, res) => noSuchPortal(res));
  // Nothing about the failure reaches the page; the log has it (without secrets: no body is logged).
  router.use((err: unknown, _req: Request, res: Response, next: (e?: unknown) => void) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: number }).status ?? 500;
    if (status >= 500) log.error({ err }, 'portal request failed');
    send(res, status >= 500 ? 500 : status, messagePage('Something went wrong', null, ['Please try again in a moment.']));
  });
  return router;
}
