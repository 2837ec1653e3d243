import type { Loaders } from './loaders.js';
import type { Services } from './services.js';
import type { RequestClient } from './shared/client.js';
import type { Logger } from './shared/logger.js';
import type { Viewer } from './shared/viewer.js';

export type { Viewer } from './shared/viewer.js';

/**
 * What every resolver receives. It sits above the modules (next to the composition root), so
 * importing it from a resolver closes no import circle. It exposes services and loaders only:
 * a resolver cannot reach a store, the database or the configuration through it.
 */
export interface Context {
  requestId: string;
  log: Logger;
  viewer: Viewer | null;
  /** Why `viewer` is null although a token was sent; lets the auth guard say "expired". */
  authProblem: 'invalid' | 'expired' | null;
  /** The client address and the operation's credential-check count (sign-in limits). */
  client: RequestClient;
  services: Services;
  /** Per-request, per-tenant DataLoaders. */
  loaders: Loaders;
  /** Fresh loaders for another tenant: an operation that signs in continues as the new viewer. */
  loadersFor(tenantId: string): Loaders;
}

/** The viewer of an authenticated operation. The auth guard has already run for root fields. */
export function viewerOf(ctx: Context): Viewer {
  if (!ctx.viewer) throw new Error('viewerOf called in an unauthenticated context');
  return ctx.viewer;
}
