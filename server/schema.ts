import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { guardRootFields } from './shared/input-guard.js';
import { ApiTokenResolver } from './modules/api-token/api-token.resolver.js';
import { leanFieldResolvers } from './shared/lean-resolvers.js';
import { AuditResolver, BulkOperationStartedByResolver, SyncRunAuditResolver, UserAuditResolver } from './modules/audit/audit.resolver.js';
import { BulkOperationResolver } from './modules/bulk-operation/bulk-operation.resolver.js';
import { AuthResolver } from './modules/auth/auth.resolver.js';
import { DirectoryResolver } from './modules/directory/directory.resolver.js';
import { GroupResolver } from './modules/group/group.resolver.js';
import { IdentityProviderResolver } from './modules/identity-provider/identity-provider.resolver.js';
import { InvitationResolver, UserInvitationsResolver } from './modules/invitation/invitation.resolver.js';
import { MfaFactorResolver } from './modules/mfa/mfa-factor.resolver.js';
import { MfaWebauthnResolver } from './modules/mfa/mfa-webauthn.resolver.js';
import { MfaGroupResolver, MfaResolver } from './modules/mfa/mfa.resolver.js';
import { ProvisioningResolver } from './modules/provisioning/provisioning.resolver.js';
import { ScimProvisioningResolver } from './modules/scim/scim.resolver.js';
import { ProvisioningRunsResolver, SyncRunResolver } from './modules/sync-run/sync-run.resolver.js';
import { NodeResolver } from './modules/node/node.resolver.js';
import { SystemResolver } from './modules/system/system.resolver.js';
import { TenantResolver } from './modules/tenant/tenant.resolver.js';
import { UserResolver } from './modules/user/user.resolver.js';

/** Every module's resolvers. Adding a module means adding it here. */
export const resolvers = [
  ApiTokenResolver,
  AuditResolver,
  SyncRunAuditResolver,
  BulkOperationStartedByResolver,
  UserAuditResolver,
  AuthResolver,
  BulkOperationResolver,
  DirectoryResolver,
  GroupResolver,
  IdentityProviderResolver,
  InvitationResolver,
  MfaResolver,
  MfaFactorResolver,
  MfaWebauthnResolver,
  MfaGroupResolver,
  NodeResolver,
  ProvisioningResolver,
  ProvisioningRunsResolver,
  ScimProvisioningResolver,
  SyncRunResolver,
  SystemResolver,
  TenantResolver,
  UserResolver,
  UserInvitationsResolver,
] as const;

let cached: Promise<GraphQLSchema> | null = null;

/** type-graphql cannot describe the root types; the contract documents every type, so do it here. */
function describeRoots(schema: GraphQLSchema): GraphQLSchema {
  const q = schema.getQueryType();
  const m = schema.getMutationType();
  const s = schema.getSubscriptionType();
  if (q) q.description = 'Reads. Everything but `viewer` needs an admin session and sees only its tenant.';
  if (m) m.description = 'Changes. Each takes one `input` and returns a payload whose `errors` hold expected failures.';
  if (s) s.description = 'Live events over graphql-ws at /graphql (token in the connection_init payload).';
  return schema;
}

/** Built once per process; type-graphql's metadata is global anyway. */
export function getSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    resolvers: [...resolvers],
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
    // Subscriptions take their event stream from `context.services.pubsub` (explicit
    // `subscribe` functions), so one process can host several servers (tests, replicas) each
    // with its own bus. type-graphql's static topic-based pubsub is therefore never used.
    pubSub: {
      publish() {
        throw new Error('use context.services.pubsub');
      },
      subscribe() {
        throw new Error('use context.services.pubsub');
      },
    },
    emitSchemaFile: false,
  })
    .then(describeRoots)
    // Nested fields called without type-graphql's per-call conversions (see lean-resolvers.ts).
    .then(leanFieldResolvers)
    // Root-field access and argument text checks, on the fields that have them only.
    .then(guardRootFields);
  return cached;
}

/** The committed contract: sorted, so diffs show real changes only. */
export async function printSortedSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await getSchema()))}\n`;
}
