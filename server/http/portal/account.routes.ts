import { Router, type Request, type Response } from 'express';
import type { EndUserViewer, Portal } from '../../modules/end-user-session/end-user-session.service.js';
import { newRequestClient } from '../../shared/client.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { bodyField, csrfRefused, headerOf, noSuchPortal, param, queryTenant, send, type PortalRouteContext } from './helpers.js';
import { accountPage, portalPath, type AccountView } from './pages.js';
import { cookiesOf, csrfOk, csrfTokenFor, SESSION_COOKIE } from './security.js';

const PASSWORD_CODES = new Set<string>([
  ErrorCode.PASSWORD_TOO_SHORT,
  ErrorCode.PASSWORD_MATCHES_IDENTITY,
  ErrorCode.PASSWORD_MISSING_UPPERCASE,
  ErrorCode.PASSWORD_MISSING_LOWERCASE,
  ErrorCode.PASSWORD_MISSING_DIGIT,
  ErrorCode.PASSWORD_MISSING_SPECIAL,
]);

/** Which of a refusal's errors are password-policy rules (the checklist marks them). */
export function failedRules(err: DomainError): string[] {
  return err.errors.filter((e) => PASSWORD_CODES.has(e.code)).map((e) => e.code);
}

/** The signed-in account page: profile and groups, change password, sign out. */
export function accountRoutes({ services }: PortalRouteContext): Router {
  const router = Router();

  /** The portal and its signed-in end user, or a redirect to sign-in (already sent). */
  const signedIn = async (req: Request, res: Response): Promise<{ portal: Portal; viewer: EndUserViewer } | null> => {
    const found = await services.endUserSessions.portal(param(req, 'idp'), queryTenant(req));
    if (!found) {
      noSuchPortal(res);
      return null;
    }
    const viewer = 'portal' in found ? await services.endUserSessions.resolve(cookiesOf(req)[SESSION_COOKIE], found.portal) : null;
    if (!viewer || !('portal' in found)) {
      res.redirect(303, portalPath(param(req, 'idp'), 'sign-in', queryTenant(req)));
      return null;
    }
    return { portal: found.portal, viewer };
  };

  const render = async (
    req: Request,
    res: Response,
    s: { portal: Portal; viewer: EndUserViewer },
    status: number,
    extra: Partial<AccountView>,
  ) => {
    const profile = await services.endUserSessions.profile(s.viewer);
    send(
      res,
      status,
      accountPage({
        header: headerOf(s.portal),
        idpName: s.portal.name,
        tenantSlug: queryTenant(req),
        csrf: csrfTokenFor(req, res),
        profile,
        identities: [profile.email, profile.username, s.portal.tenantSlug],
        ...extra,
      }),
    );
  };

  router.get('/:idp/account', async (req, res) => {
    const s = await signedIn(req, res);
    if (!s) return;
    await render(req, res, s, 200, { notice: req.query['changed'] !== undefined ? 'Your password was changed.' : null });
  });

  router.post('/:idp/account/password', async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const s = await signedIn(req, res);
    if (!s) return;
    const password = bodyField(req, 'password');
    if (password !== bodyField(req, 'confirm')) {
      return render(req, res, s, 400, { errors: ['The two new passwords differ.'], confirmError: 'Type the same new password twice.' });
    }
    try {
      await services.endUserSessions.changePassword(
        newRequestClient(req.ip),
        s.viewer,
        { currentPassword: bodyField(req, 'currentPassword'), newPassword: password },
        { tenantSlug: s.portal.tenantSlug },
      );
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.errors.some((e) => e.code === ErrorCode.INVALID_CREDENTIALS)) {
        return render(req, res, s, 400, { errors: ['The current password is wrong.'], currentError: 'The current password is wrong.' });
      }
      return render(req, res, s, 400, { errors: err.errors.map((e) => e.message), failedRules: failedRules(err) });
    }
    const tenant = queryTenant(req);
    res.redirect(303, `${portalPath(s.portal.name, 'account', tenant)}${tenant ? '&' : '?'}changed`);
  });

  return router;
}
