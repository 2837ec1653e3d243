import type { Logger } from './logger.js';
import type { Services } from '../services.js';
import type { Loaders } from '../loaders.js';

/** The signed-in administrator. Every tenant-scoped query takes `tenantId` from here. */
export interface Viewer {
  tenantId: string;
  userId: string;
  sessionId: string;
}

export interface Context {
  requestId: string;
  log: Logger;
  viewer: Viewer | null;
  /** Why `viewer` is null although a token was sent; lets the auth guard say "expired". */
  authProblem: 'invalid' | 'expired' | null;
  services: Services;
  /** Per-request, per-tenant DataLoaders. */
  loaders: Loaders;
}

/** The viewer of an authenticated operation. The auth guard has already run for root fields. */
export function viewerOf(ctx: Context): Viewer {
  if (!ctx.viewer) throw new Error('viewerOf called in an unauthenticated context');
  return ctx.viewer;
}
