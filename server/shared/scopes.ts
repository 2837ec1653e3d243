import { Extensions, registerEnumType } from 'type-graphql';
import { forbidden } from './errors.js';

/**
 * What an API token may do. Every root field declares the one scope it needs
 * (`@RequiresScope`), or that it is for admin sessions only (`@SessionOnly`), or public
 * (`@Public`); `npm run check` fails on a root field with none of the three, and a token is
 * refused any field without a scope (deny by default). The string values are what error
 * messages and the audit trail show.
 */
export enum ApiScope {
  DIRECTORY_READ = 'directory:read',
  DIRECTORY_WRITE = 'directory:write',
  BULK_WRITE = 'bulk:write',
  PROVISIONING_READ = 'provisioning:read',
  PROVISIONING_WRITE = 'provisioning:write',
  MFA_VERIFY = 'mfa:verify',
  AUDIT_READ = 'audit:read',
}

registerEnumType(ApiScope, {
  name: 'ApiScope',
  description: 'A permission of an API token. Admin sessions hold every scope; a token holds those it was created with.',
  valuesConfig: {
    DIRECTORY_READ: { description: 'directory:read — read directories, users, groups, identity providers and the tenant.' },
    DIRECTORY_WRITE: { description: 'directory:write — create, change and delete users, groups, directories, invitations.' },
    BULK_WRITE: { description: 'bulk:write — start, follow and cancel bulk operations, upload CSV files, download results.' },
    PROVISIONING_READ: { description: 'provisioning:read — read the MFA directory, provisionings, sync runs and previews.' },
    PROVISIONING_WRITE: { description: 'provisioning:write — configure, deploy and sync provisionings; manage MFA users.' },
    MFA_VERIFY: { description: "mfa:verify — verify an end user's MFA factor on behalf of a relying service." },
    AUDIT_READ: { description: 'audit:read — read, follow and export the audit trail.' },
  },
});

/** The scope of each value, for parsing stored text (unknown values are dropped, never granted). */
export const API_SCOPES: ReadonlySet<string> = new Set(Object.values(ApiScope));

/** The scope a root field needs when an API token calls it (admin sessions need none). */
export function RequiresScope(scope: ApiScope): MethodDecorator & PropertyDecorator {
  return Extensions({ scope }) as MethodDecorator & PropertyDecorator;
}

/** A root field only admin sessions may call (managing tokens, logout): every token is refused. */
export function SessionOnly(): MethodDecorator & PropertyDecorator {
  return Extensions({ sessionOnly: true }) as MethodDecorator & PropertyDecorator;
}

/**
 * A root field whose resolver checks the scope itself because it depends on the argument
 * (`node(id)`: the scope of the type behind the id), through `assertScope`.
 */
export function ScopeByArgument(): MethodDecorator & PropertyDecorator {
  return Extensions({ scopeByArgument: true }) as MethodDecorator & PropertyDecorator;
}

/** A root field any authenticated viewer may call, whatever its scopes (`heartbeat`: it touches no data). */
export function AnyViewer(): MethodDecorator & PropertyDecorator {
  return Extensions({ anyViewer: true }) as MethodDecorator & PropertyDecorator;
}

/** How a root field declares its access, read from the schema's field extensions. */
export function declaredAccess(
  extensions: Record<string, unknown> | null | undefined,
): { kind: 'public' | 'any' | 'session' | 'argument' } | { kind: 'scope'; scope: ApiScope } | null {
  const e = extensions ?? {};
  if (e['public'] === true) return { kind: 'public' };
  if (e['anyViewer'] === true) return { kind: 'any' };
  if (e['sessionOnly'] === true) return { kind: 'session' };
  if (e['scopeByArgument'] === true) return { kind: 'argument' };
  if (typeof e['scope'] === 'string' && API_SCOPES.has(e['scope'])) return { kind: 'scope', scope: e['scope'] as ApiScope };
  return null;
}

/** The part of a `Viewer` scopes look at (named structurally: viewer.ts imports this file). */
type ScopedViewer = { apiToken?: { scopes: readonly ApiScope[] } | null } | null;

/** Why this viewer may not use something needing `scope` (null: it may). Admin sessions hold every scope. */
export function missingScope(viewer: ScopedViewer, scope: ApiScope, what: string): string | null {
  const token = viewer?.apiToken;
  if (!token || token.scopes.includes(scope)) return null;
  return `This API token lacks the scope ${scope} that ${what} needs.`;
}

/** Throws FORBIDDEN naming the missing scope (resolvers whose scope depends on an argument, such as `node`). */
export function assertScope(viewer: ScopedViewer, scope: ApiScope, what: string): void {
  const missing = missingScope(viewer, scope, what);
  if (missing) throw forbidden(missing);
}

/** The refusal of a root field without a scope for a token (admin-session-only or undeclared: deny by default). */
export function sessionOnlyMessage(field: string): string {
  return `${field} is for admin sessions only: API tokens cannot use it.`;
}
