import { Router, type Request, type Response } from 'express';
import type { EnrollmentLinkView } from '../../modules/mfa/mfa-portal.service.js';
import { newRequestClient } from '../../shared/client.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { bodyField, csrfRefused, send, type PortalRouteContext } from './helpers.js';
import { ENROLL_PATH, ENROLL_ROUTE, enrollChoicePage, totpSetupPage, type EnrollWho } from './mfa-pages.js';
import { messagePage } from './pages.js';
import { clearCookie, cookiesOf, csrfOk, csrfTokenFor, MFA_LINK_COOKIE, QR_PAGE_CSP, setCookie } from './security.js';

const GRANT_MS = 15 * 60_000;
const COOKIE_PATH = '/portal/mfa';
const AGAIN = 'Ask your administrator to send you a new enrolment email.';
const LINK_CODES = new Set<string>([ErrorCode.TOKEN_USED, ErrorCode.TOKEN_EXPIRED, ErrorCode.TOKEN_INVALID]);

/**
 * The MFA enrolment link, `<PORTAL_BASE_URL>/mfa/enroll?token=…` (sent by `sendMfaEnrollment`,
 * syncs, resets and bulk jobs). As with the activation link, the first request's token is
 * exchanged for a sealed, short-lived grant in an httpOnly cookie and the browser is redirected
 * to the bare page. The forms then call the same services as `beginTotpEnrollment`,
 * `confirmTotpEnrollment`, `beginWebAuthnRegistration` and `finishWebAuthnRegistration`.
 */
export function enrollRoutes({ services }: PortalRouteContext): Router {
  const router = Router();

  const invalid = (res: Response, reason: string) =>
    send(res, 410, messagePage('This enrolment link cannot be used', null, [reason, AGAIN]));

  /** The link behind the grant cookie and who it is for, or an answer already sent. */
  const linkOf = async (req: Request, res: Response): Promise<{ token: string; who: EnrollWho } | null> => {
    const token = services.endUserSessions.openLinkGrant(cookiesOf(req)[MFA_LINK_COOKIE]);
    if (!token) {
      invalid(res, 'This link is not valid, or the page was left open too long. Open the link from your email again.');
      return null;
    }
    const view: EnrollmentLinkView = await services.mfaPortal.inspectLink(newRequestClient(req.ip), token);
    if (view.state !== 'OK') {
      invalid(
        res,
        view.state === 'USED'
          ? 'This link was already used, or a newer enrolment email replaced it.'
          : view.state === 'EXPIRED'
            ? 'This link has expired.'
            : 'This link is not valid.',
      );
      return null;
    }
    return {
      token,
      who: {
        header: { idpName: null, idpDescription: null, tenantName: view.tenantName },
        username: view.username,
        email: view.email,
        name: `${view.firstName} ${view.lastName}`.trim(),
      },
    };
  };

  const done = (req: Request, res: Response, who: EnrollWho, what: string) => {
    clearCookie(req, res, MFA_LINK_COOKIE, COOKIE_PATH);
    send(
      res,
      200,
      messagePage(`Your ${what} is set up`, who.header, [
        `Two-step verification is on for ${who.username}.`,
        'From now on, signing in asks for it after your password. You can close this page.',
      ]),
    );
  };

  /** A refusal of the link itself (used meanwhile, expired) is the invalid-link page; anything else is `other`. */
  const refused = (res: Response, err: unknown, other: (message: string) => void) => {
    if (!(err instanceof DomainError)) throw err;
    const e = err.errors[0]!;
    if (LINK_CODES.has(e.code)) return invalid(res, e.message);
    other(e.message);
  };

  router.get(ENROLL_ROUTE, async (req, res) => {
    const token = req.query['token'];
    if (typeof token === 'string' && token) {
      setCookie(req, res, MFA_LINK_COOKIE, services.endUserSessions.sealLinkGrant(token), { path: COOKIE_PATH, maxAgeMs: GRANT_MS });
      return res.redirect(303, ENROLL_PATH);
    }
    const l = await linkOf(req, res);
    if (l) send(res, 200, enrollChoicePage({ ...l.who, csrf: csrfTokenFor(req, res) }));
  });

  // Begins (or begins again) an authenticator-app enrolment: a new secret on a pending device.
  router.post(`${ENROLL_ROUTE}/totp`, async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const l = await linkOf(req, res);
    if (!l) return;
    const csrf = csrfTokenFor(req, res);
    try {
      const s = await services.mfaEnrollment.beginTotp(newRequestClient(req.ip), {
        token: l.token,
        deviceName: bodyField(req, 'deviceName').trim() || null,
      });
      // The QR code is an inline PNG (data: URL); only this page's CSP admits data: images.
      res.setHeader('Content-Security-Policy', QR_PAGE_CSP);
      send(res, 200, totpSetupPage({ ...l.who, csrf, setup: s }));
    } catch (err) {
      refused(res, err, (message) => send(res, 400, enrollChoicePage({ ...l.who, csrf, errors: [message] })));
    }
  });

  router.post(`${ENROLL_ROUTE}/totp/confirm`, async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const l = await linkOf(req, res);
    if (!l) return;
    try {
      await services.mfaEnrollment.confirmTotp(newRequestClient(req.ip), { token: l.token, code: bodyField(req, 'code') });
    } catch (err) {
      return refused(res, err, (message) =>
        send(res, 400, totpSetupPage({ ...l.who, csrf: csrfTokenFor(req, res), setup: null, error: message })),
      );
    }
    done(req, res, l.who, 'authenticator app');
  });

  // JSON for the page's script: the creation options for navigator.credentials.create.
  router.post(`${ENROLL_ROUTE}/webauthn/options`, async (req, res) => {
    const token = services.endUserSessions.openLinkGrant(cookiesOf(req)[MFA_LINK_COOKIE]);
    if (!csrfOk(req) || !token) {
      res
        .status(csrfOk(req) ? 410 : 403)
        .json({ error: token ? 'Reload the page and try again.' : 'Open the link from your email again.' });
      return;
    }
    try {
      const { optionsJson } = await services.mfaWebauthn.beginRegistration(newRequestClient(req.ip), {
        token,
        deviceName: bodyField(req, 'deviceName').trim() || null,
      });
      res.type('application/json').send(optionsJson);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      res.status(LINK_CODES.has(err.errors[0]!.code) ? 410 : 400).json({ error: err.errors[0]!.message });
    }
  });

  router.post(`${ENROLL_ROUTE}/webauthn`, async (req, res) => {
    if (!csrfOk(req)) return csrfRefused(res);
    const l = await linkOf(req, res);
    if (!l) return;
    try {
      await services.mfaWebauthn.finishRegistration(newRequestClient(req.ip), { token: l.token, response: bodyField(req, 'response') });
    } catch (err) {
      return refused(res, err, (message) =>
        send(res, 400, enrollChoicePage({ ...l.who, csrf: csrfTokenFor(req, res), errors: [message] })),
      );
    }
    done(req, res, l.who, 'security key');
  });

  return router;
}
