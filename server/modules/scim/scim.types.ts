import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import { Provisioning } from '../provisioning/provisioning.types.js';

@ObjectType({ description: 'One request of the identity provider to a SCIM provisioning: every write, and every refused request.' })
export class ScimActivity {
  @Field(() => ID, { description: 'Opaque id of the entry.' })
  id!: string;

  @Field(() => Date, { description: 'When the request was answered (a write: when it committed).' })
  at!: Date;

  @Field(() => String, { description: 'HTTP method (POST, PUT, PATCH, DELETE; GET only when refused).' })
  method!: string;

  @Field(() => String, { description: 'Path below the SCIM base URL, e.g. `Users/<id>`; the query string (filters) is not kept.' })
  resource!: string;

  @Field(() => Int, { description: 'HTTP status answered.' })
  status!: number;

  @Field(() => String, { description: 'What happened: created, claimed, updated, deleted, or the SCIM error type and detail.' })
  result!: string;
}

export const ScimActivityConnection = ConnectionType(ScimActivity, 'ScimActivity');

@InputType({ description: 'Replaces the bearer token of a SCIM provisioning.' })
export class RotateScimTokenInput {
  @Field(() => ID, { description: 'The SCIM provisioning.' })
  id!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'Minutes the previous token(s) keep working, so the identity provider can be updated (0–10080, default 60; 0 ends them now).',
  })
  graceMinutes?: number;
}

@ObjectType({ description: 'Result of `rotateScimToken`.' })
export class RotateScimTokenPayload {
  @Field(() => Provisioning, { nullable: true, description: 'The provisioning.' })
  provisioning?: unknown;

  @Field(() => String, { nullable: true, description: 'The new bearer token, shown this once (only its hash is stored).' })
  scimToken?: string | null;

  @Field(() => Date, { nullable: true, description: 'When the previous token(s) stop working.' })
  previousTokenExpiresAt?: Date | null;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}
