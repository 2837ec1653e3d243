import type { ApiTokenService } from '../modules/api-token/api-token.service.js';
import { looksLikeApiToken } from '../modules/api-token/api-token.service.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { Viewer } from '../shared/viewer.js';

/** Who a request or socket acts for, and, when nobody although a token came, why. */
export interface Authentication {
  viewer: Viewer | null;
  problem: 'invalid' | 'expired' | null;
}

/** What turns a credential into a viewer: admin sessions and API tokens. */
export interface Authenticators {
  auth: AuthService;
  apiTokens: ApiTokenService;
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

/**
 * Token → viewer, for GraphQL over HTTP, websockets, uploads and downloads alike: an API
 * token (`rst_at_…`) yields a token viewer (tenant, token id, scopes), anything else is
 * checked as an admin session. An unknown, revoked or expired API token is one answer
 * (`invalid`): which of the three is not told. `address` is recorded as the token's last use.
 */
export async function authenticateToken(
  a: Authenticators,
  token: string | undefined,
  address: string | null = null,
): Promise<Authentication> {
  if (token && looksLikeApiToken(token)) {
    const viewer = await a.apiTokens.resolve(token, address);
    return viewer ? { viewer, problem: null } : { viewer: null, problem: 'invalid' };
  }
  const resolved = await a.auth.resolveToken(token);
  if (!resolved) return ANONYMOUS;
  return resolved.viewer ? { viewer: resolved.viewer, problem: null } : { viewer: null, problem: resolved.problem };
}

/** An HTTP request's `Authorization` header. */
export function authenticateHeader(a: Authenticators, header: string | undefined, address?: string | null): Promise<Authentication> {
  return authenticateToken(a, bearerToken(header), address ?? null);
}

/** The token of a websocket's `connection_init` payload: `{ token }` or `{ authorization: "Bearer …" }`. */
export function connectionToken(params: Record<string, unknown> | undefined): string | undefined {
  const p = params ?? {};
  return typeof p.token === 'string' ? p.token : bearerToken(p.authorization);
}
