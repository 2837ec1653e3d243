import { Router, type Request, type Response } from 'express';
import type { Portal } from '../../modules/end-user-session/end-user-session.service.js';
import type { LinkPreview } from '../../modules/invitation/invitation.service.js';
import { newRequestClient } from '../../shared/client.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { failedRules } from './account.routes.js';
import { bodyField, cookiePath, csrfRefused, headerOf, param, send, type PortalRouteContext } from './helpers.js';
import { linkFormPage, messagePage, portalPath, type LinkAction, type LinkFormView } from './pages.js';
import { clearCookie, cookiesOf, csrfOk, csrfTokenFor, LINK_COOKIE, setCookie } from './security.js';

const GRANT_MS = 15 * 60_000;

const AGAIN = {
  activate: 'Ask your administrator to invite you again.',
  'reset-password': 'Ask your administrator to send you a new password-reset link.',
} as const;

/**
 * The emailed links: `activate` (invitation) and `reset-password`. The first request carries
 * the link's token; it is exchanged at once for a short-lived sealed grant in an httpOnly
 * cookie and the browser is redirected to the same page without it, so the secret is no
 * longer in the address bar, the history or any Referer. The form then redeems it through
 * `completeAccountSetup`, the same service the GraphQL mutation calls.
 */
export function linkRoutes({ services }: PortalRouteContext): Router {
  const router = Router();

  const invalid = (res: Response, action: LinkAction, header: ReturnType<typeof headerOf> | null, reason: string) =>
    send(res, 410, messagePage('This link cannot be used', header, [reason, AGAIN[action]]));

  /** The link behind the grant cookie, checked against the portal in the URL. */
  const linkOf = async (
    req: Request,
    res: Response,
    action: LinkAction,
  ): Promise<{ token: string; preview: LinkPreview; portal: Portal } | null> => {
    const token = services.endUserSessions.openLinkGrant(cookiesOf(req)[LINK_COOKIE]);
    if (!token) {
      invalid(res, action, null, 'This link is not valid, or the page was left open too long. Open the link from your email again.');
      return null;
    }
    let preview: LinkPreview;
    try {
      preview = await services.invitations.inspectLink(newRequestClient(req.ip), token);
    } catch (err) {
      if (err instanceof DomainError) {
        invalid(res, action, null, 'This link is not valid.');
        return null;
      }
      throw err;
    }
    const found = await services.endUserSessions.portal(param(req, 'idp'), preview.tenantSlug);
    if (!found || !('portal' in found) || found.portal.identityProviderId !== preview.identityProviderId) {
      invalid(res, action, null, 'This link is not valid for this login portal.');
      return null;
    }
    const header = headerOf(found.portal);
    if (preview.state === 'USED') {
      invalid(res, action, header, 'This link was already used, or a newer link replaced it.');
      return null;
    }
    if (preview.state === 'EXPIRED') {
      invalid(res, action, header, 'This link has expired.');
      return null;
    }
    if (preview.state === 'DISABLED') {
      send(res, 403, messagePage('This account is disabled', header, ['Contact your administrator.']));
      return null;
    }
    return { token, preview, portal: found.portal };
  };

  const view = (req: Request, res: Response, action: LinkAction, l: { preview: LinkPreview; portal: Portal }): LinkFormView => ({
    header: headerOf(l.portal),
    action,
    idpName: l.portal.name,
    csrf: csrfTokenFor(req, res),
    email: l.preview.email,
    username: l.preview.username,
    identities: [l.preview.email, l.preview.username, l.preview.tenantSlug],
  });

  for (const action of ['activate', 'reset-password'] as const) {
    router.get(`/:idp/${action}`, async (req, res) => {
      const token = req.query['token'];
      if (typeof token === 'string' && token) {
        setCookie(req, res, LINK_COOKIE, services.endUserSessions.sealLinkGrant(token), {
          path: cookiePath(param(req, 'idp')),
          maxAgeMs: GRANT_MS,
        });
        return res.redirect(303, portalPath(param(req, 'idp'), action));
      }
      const l = await linkOf(req, res, action);
      if (!l) return;
      send(res, 200, linkFormPage(view(req, res, action, l)));
    });

    router.post(`/:idp/${action}`, async (req, res) => {
      if (!csrfOk(req)) return csrfRefused(res);
      const l = await linkOf(req, res, action);
      if (!l) return;
      const password = bodyField(req, 'password');
      if (password !== bodyField(req, 'confirm')) {
        return send(
          res,
          400,
          linkFormPage({
            ...view(req, res, action, l),
            errors: ['The two passwords differ.'],
            confirmError: 'Type the same password twice.',
          }),
        );
      }
      try {
        await services.invitations.completeAccountSetup(newRequestClient(req.ip), { token: l.token, password });
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        const codes = err.errors.map((e) => e.code);
        if (codes.some((c) => c === ErrorCode.TOKEN_USED || c === ErrorCode.TOKEN_EXPIRED || c === ErrorCode.TOKEN_INVALID)) {
          return invalid(res, action, headerOf(l.portal), err.errors[0]!.message);
        }
        return send(
          res,
          400,
          linkFormPage({ ...view(req, res, action, l), errors: err.errors.map((e) => e.message), failedRules: failedRules(err) }),
        );
      }
      clearCookie(req, res, LINK_COOKIE, cookiePath(l.portal));
      const signIn = portalPath(l.portal.name, 'sign-in', l.portal.tenantSlug);
      send(
        res,
        200,
        messagePage(
          action === 'activate' ? 'Your account is active' : 'Your password was changed',
          headerOf(l.portal),
          [
            action === 'activate'
              ? 'You can now sign in with your email or login id and the password you chose.'
              : 'Every session signed in with the old password has ended. Sign in with the new one.',
          ],
          { href: signIn, label: 'Sign in' },
        ),
      );
    });
  }
  return router;
}
