import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import { ApiScope } from '../../shared/scopes.js';
import { Node } from '../node/node.types.js';

@ObjectType({
  implements: Node,
  description:
    'A credential for a service: sent as `Authorization: Bearer rst_at_…` (or `{ token }` on the websocket), it may call the root fields its scopes allow. Its secret is shown only when created or rotated.',
})
export class ApiToken {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'What the token is for (e.g. the service using it); not unique.' })
  name!: string;

  @Field(() => [ApiScope], { description: 'What it may do; admin sessions hold every scope.' })
  scopes!: ApiScope[];

  @Field(() => Date, { nullable: true, description: 'When it stops working; null: never (until revoked).' })
  expiresAt!: Date | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Global id of the admin who created it; the token outlives that admin (null when unknown).',
  })
  createdById!: string | null;

  @Field(() => Date, { description: 'When it was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was revoked; a revoked token never works again.' })
  revokedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When its secret was last rotated.' })
  rotatedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'Until when the secret before the last rotation still works (the grace period); null without a rotation.',
  })
  previousSecretExpiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'Last use, recorded at most once a minute; null if never used.' })
  lastUsedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Client address of that last recorded use.' })
  lastUsedAddress!: string | null;
}

/** A token row as the store returns it: never with a secret's hash. */
export interface ApiTokenRow {
  id: string;
  tenantId: string;
  name: string;
  scopes: string[];
  previousExpiresAt: Date | null;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  rotatedAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedAddress: string | null;
}

export const ApiTokenConnection = ConnectionType(ApiToken, 'ApiToken');

@InputType({ description: 'A new API token.' })
export class CreateApiTokenInput {
  @Field(() => String, { description: 'What the token is for, 1–100 characters.' })
  name!: string;

  @Field(() => [ApiScope], { description: 'At least one scope; duplicates are ignored.' })
  scopes!: ApiScope[];

  @Field(() => Date, { nullable: true, description: 'When it stops working (in the future); default: never.' })
  expiresAt?: Date | null;
}

@InputType({ description: 'Names one API token.' })
export class ApiTokenIdInput {
  @Field(() => ID, { description: 'Global id of the token.' })
  id!: string;
}

@ObjectType({ description: 'Result of `createApiToken` and `rotateApiToken`: the only time the secret is shown.' })
export class ApiTokenSecretPayload {
  @Field(() => ApiToken, { nullable: true, description: 'The token.' })
  apiToken?: unknown;

  @Field(() => String, {
    nullable: true,
    description: 'The secret (`rst_at_…`): store it now, it cannot be shown again. Only its SHA-256 is kept.',
  })
  secret?: string | null;

  @Field(() => [UserError], { description: 'INVALID_INPUT, NOT_FOUND or INVALID_STATE; empty on success.' })
  errors!: UserError[];
}

@ObjectType({ description: 'Result of `revokeApiToken`.' })
export class RevokeApiTokenPayload {
  @Field(() => ApiToken, { nullable: true, description: 'The revoked token.' })
  apiToken?: unknown;

  @Field(() => [UserError], { description: 'NOT_FOUND or INVALID_STATE (already revoked); empty on success.' })
  errors!: UserError[];
}
