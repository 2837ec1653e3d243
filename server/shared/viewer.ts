import type { ApiScope } from './scopes.js';

/**
 * Who an operation runs for: a signed-in administrator (session) or an API token. Every
 * tenant-scoped query takes `tenantId` from here, never from client input. It lives on the
 * ground floor so services can name it without importing the GraphQL context (which sits
 * above them).
 */
export interface Viewer {
  tenantId: string;
  /** The signed-in administrator; null when an API token acts. */
  userId: string | null;
  /** The admin session; null when an API token acts. */
  sessionId: string | null;
  /** Set when an API token acts: which one, and what it may do. */
  apiToken?: ApiTokenGrant | null;
  /** The request it came with (request id and client address), recorded on audit events. */
  request?: RequestInfo | null;
}

/** Where a change came from, for the audit trail. */
export interface RequestInfo {
  id: string;
  address: string | null;
}

/** An API token acting as a viewer. */
export interface ApiTokenGrant {
  id: string;
  name: string;
  scopes: readonly ApiScope[];
}

/** An administrator's session viewer (what `login` yields). */
export type SessionViewer = Viewer & { userId: string; sessionId: string };
