import type { Request, Response } from 'express';
import type { Portal } from '../../modules/end-user-session/end-user-session.service.js';
import type { Services } from '../../services.js';
import type { Logger } from '../../shared/logger.js';
import type { PortalHeader } from './layout.js';
import { messagePage, portalPath } from './pages.js';
import { cookiesOf, SESSION_COOKIE } from './security.js';

export type PortalRouteContext = { services: Services; log: Logger };

export function headerOf(p: Portal): PortalHeader {
  return { idpName: p.name, idpDescription: p.description, tenantName: p.tenantName };
}

/** The cookie path of one portal: its sessions and link grants are not sent to any other. */
export function cookiePath(p: Portal | string): string {
  return `/portal/${encodeURIComponent(typeof p === 'string' ? p : p.name)}`;
}

export function param(req: Request, name: string): string {
  const v = (req.params as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

export function bodyField(req: Request, name: string): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

export function queryTenant(req: Request): string | null {
  const q = req.query['tenant'];
  const b = (req.body as Record<string, unknown> | undefined)?.['tenant'];
  const v = typeof b === 'string' && b ? b : typeof q === 'string' ? q : '';
  return v.trim().toLowerCase() || null;
}

export function send(res: Response, status: number, body: string): void {
  res.status(status).type('html').send(body);
}

export function csrfRefused(res: Response): void {
  send(
    res,
    403,
    messagePage('Please try again', null, ['This form was opened too long ago or from another site. Reload the page and send it again.']),
  );
}

export function noSuchPortal(res: Response): void {
  send(
    res,
    404,
    messagePage('No such login portal', null, ['Check the address, or ask your administrator for the link to your login portal.']),
  );
}

/**
 * The portal of the URL and what `resolve` makes of its session cookie (a signed-in viewer, a
 * sign-in waiting for its second factor), or null with the answer already sent: 404 for an
 * unknown portal, else `missing` (by default a redirect to the sign-in page).
 */
export async function portalSession<T>(
  services: Services,
  req: Request,
  res: Response,
  resolve: (token: string | undefined, portal: Portal) => Promise<T | null>,
  missing: () => void = () => res.redirect(303, portalPath(param(req, 'idp'), 'sign-in', queryTenant(req))),
): Promise<{ portal: Portal; session: T } | null> {
  const found = await services.endUserSessions.portal(param(req, 'idp'), queryTenant(req));
  if (!found) {
    noSuchPortal(res);
    return null;
  }
  const session = 'portal' in found ? await resolve(cookiesOf(req)[SESSION_COOKIE], found.portal) : null;
  if (!session || !('portal' in found)) {
    missing();
    return null;
  }
  return { portal: found.portal, session };
}
