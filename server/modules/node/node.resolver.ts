import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { forbidden } from '../../shared/errors.js';
import { ApiScope, assertScope, ScopeByArgument, sessionOnlyMessage } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { parseGlobalId } from '../../shared/ids.js';
import { Node } from './node.types.js';

type NodeLoader = (ctx: Context, id: string) => Promise<object | null>;

/** The scope an API token needs to fetch each type through `node(id:)` (a type missing here is refused to tokens). */
export const nodeScopes: Record<string, ApiScope> = {
  Directory: ApiScope.DIRECTORY_READ,
  User: ApiScope.DIRECTORY_READ,
  Group: ApiScope.DIRECTORY_READ,
  IdentityProvider: ApiScope.DIRECTORY_READ,
  MfaUser: ApiScope.PROVISIONING_READ,
  MfaGroup: ApiScope.PROVISIONING_READ,
  Provisioning: ApiScope.PROVISIONING_READ,
  SyncRun: ApiScope.PROVISIONING_READ,
  BulkOperation: ApiScope.BULK_WRITE,
  AuditEvent: ApiScope.AUDIT_READ,
};

/** Types fetchable by `node(id:)`. Modules with Node types register themselves here. */
export const nodeLoaders: Record<string, NodeLoader> = {
  Directory: (ctx, id) => ctx.loaders.directoryById.load(id),
  User: (ctx, id) => ctx.loaders.userById.load(id),
  Group: (ctx, id) => ctx.loaders.groupById.load(id),
  IdentityProvider: (ctx, id) => ctx.loaders.identityProviderById.load(id),
  MfaUser: (ctx, id) => ctx.loaders.mfaUserById.load(id),
  MfaGroup: (ctx, id) => ctx.loaders.mfaGroupById.load(id),
  Provisioning: (ctx, id) => ctx.loaders.provisioningById.load(id),
  SyncRun: (ctx, id) => ctx.loaders.syncRunById.load(id),
  BulkOperation: (ctx, id) => ctx.loaders.bulkOperationById.load(id),
  // Admin sessions only (the service refuses tokens; no scope lets a token list credentials).
  ApiToken: (ctx, id) => ctx.services.apiTokens.byId(viewerOf(ctx), id),
  AuditEvent: (ctx, id) => ctx.services.audit.byId(viewerOf(ctx), id),
};

@Resolver()
export class NodeResolver {
  @ScopeByArgument()
  @Query(() => Node, {
    nullable: true,
    description: "Any object by its global id; null if it does not exist in the viewer's tenant.",
  })
  async node(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id.' }) id: string) {
    const parsed = parseGlobalId(id);
    // Own keys only: a type name such as `constructor` or `__proto__` must not reach Object's members.
    const load = parsed && Object.hasOwn(nodeLoaders, parsed.type) ? nodeLoaders[parsed.type] : undefined;
    if (!parsed || !load) return null;
    if (ctx.viewer?.apiToken) {
      const scope = Object.hasOwn(nodeScopes, parsed.type) ? nodeScopes[parsed.type] : undefined;
      if (!scope) throw forbidden(sessionOnlyMessage(`node(id:) for a ${parsed.type}`));
      assertScope(ctx.viewer, scope, `node(id:) for a ${parsed.type}`);
    }
    const obj = await load(ctx, parsed.id);
    return obj ? { ...obj, __typename: parsed.type } : null;
  }
}
