import type { AuthService } from '../modules/auth/auth.service.js';
import type { Viewer } from '../shared/viewer.js';

/** Who a request or socket acts for, and, when nobody although a token came, why. */
export interface Authentication {
  viewer: Viewer | null;
  problem: 'invalid' | 'expired' | null;
}

const ANONYMOUS: Authentication = { viewer: null, problem: null };

/**
 * The token of an `Authorization` value. The one rule for every transport: the `Bearer`
 * scheme (any case) and one token. Anything else is not a credential (a token sent without
 * the scheme is refused everywhere alike, instead of accepted on one route and not another).
 */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m?.[1];
}

/** Token → session → viewer, for GraphQL over HTTP, websockets, uploads and downloads alike. */
export async function authenticateToken(auth: AuthService, token: string | undefined): Promise<Authentication> {
  const resolved = await auth.resolveToken(token);
  if (!resolved) return ANONYMOUS;
  return resolved.viewer ? { viewer: resolved.viewer, problem: null } : { viewer: null, problem: resolved.problem };
}

/** An HTTP request's `Authorization` header. */
export function authenticateHeader(auth: AuthService, header: string | undefined): Promise<Authentication> {
  return authenticateToken(auth, bearerToken(header));
}

/** The token of a websocket's `connection_init` payload: `{ token }` or `{ authorization: "Bearer …" }`. */
export function connectionToken(params: Record<string, unknown> | undefined): string | undefined {
  const p = params ?? {};
  return typeof p.token === 'string' ? p.token : bearerToken(p.authorization);
}
