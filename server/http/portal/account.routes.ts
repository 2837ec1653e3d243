import { Router, type Request, type Response } from 'express';
import type { EndUserViewer, Portal } from '../../modules/end-user-session/end-user-session.service.js';
import { newRequestClient } from '../../shared/client.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { bodyField, csrfRefused, headerOf, portalSession, queryTenant, send, type PortalRouteContext } from './helpers.js';
import { devicesSection } from './mfa-pages.js';
import { accountPage, portalPath, type AccountView } from './pages.js';
import { csrfOk, csrfTokenFor } from './security.js';

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
    const s = await portalSession(services, req, res, (token, portal) => services.endUserSessions.resolve(token, portal));
    return s && { portal: s.portal, viewer: s.session };
  };

  const render = async (
    req: Request,
    res: Response,
    s: { portal: Portal; viewer: EndUserViewer },
    status: number,
    extra: Partial<AccountView>,
  ) => {
    const profile = await services.endUserSessions.profile(s.viewer);
    const csrf = csrfTokenFor(req, res);
    const devices = await services.mfaPortal.devicesOf(s.viewer.tenantId, profile);
    send(
      res,
      status,
      accountPage({
        header: headerOf(s.portal),
        idpName: s.portal.name,
        tenantSlug: queryTenant(req),
        csrf,
        profile,
        identities: [profile.email, profile.username, s.portal.tenantSlug],
        devices: devicesSection({ idpName: s.portal.name, tenantSlug: queryTenant(req), csrf, devices }),
        ...extra,
      }),
    );
  };

  router.get('/:idp/account', async (req, res) => {
    const s = await signedIn(req, res);
    if (!s) return;
    const notice =
      req.query['changed'] !== undefined
        ? 'Your password was changed.'
        : req.query['removed'] !== undefined
          ? 'The device was removed.'
          : null;
    await render(req, res, s, 200, { notice });
  });

  // One of the user's own MFA devices (a lost phone, an old key); anyone else's is "not found".
  router.post('/:idp/account/devices/remove', async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const s = await signedIn(req, res);
    if (!s) return;
    try {
      await services.mfaPortal.removeDevice(
        s.viewer.tenantId,
        await services.endUserSessions.profile(s.viewer),
        bodyField(req, 'deviceId'),
      );
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      return render(req, res, s, 404, { errors: [err.errors[0]!.message] });
    }
    const tenant = queryTenant(req);
    res.redirect(303, `${portalPath(s.portal.name, 'account', tenant)}${tenant ? '&' : '?'}removed`);
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
