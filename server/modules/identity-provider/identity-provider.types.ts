import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { Node } from '../node/node.types.js';

@ObjectType({ implements: Node, description: 'A login portal users sign in through; its name appears in invitation links.' })
export class IdentityProvider {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'URL-safe name, unique in the tenant; part of the portal URL.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description!: string | null;

  @Field(() => Boolean, { description: "True for the tenant's default identity provider." })
  isDefault!: boolean;

  @Field(() => String, { description: 'Login portal URL of this identity provider.' })
  portalUrl!: string;

  @Field(() => Date, { description: 'When it was created.' })
  createdAt!: Date;
}

export interface IdentityProviderRow {
  id: string;
  tenantId: string;
  directoryId: string;
  name: string;
  description: string | null;
  isDefault: boolean;
  createdAt: Date;
}

@InputType({ description: 'A new identity provider (login portal).' })
export class CreateIdentityProviderInput {
  @Field(() => String, {
    description:
      'URL-safe name: 1–63 lowercase letters, digits and inner hyphens; unique in the tenant. Appears in portal and invitation URLs.',
  })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description?: string;

  @Field(() => ID, { nullable: true, description: 'Directory whose users sign in through it; default: the Cloud Directory.' })
  directoryId?: string;
}

@ObjectType({ description: 'Result of `createIdentityProvider`.' })
export class IdentityProviderPayload {
  @Field(() => IdentityProvider, { nullable: true, description: 'The new identity provider.' })
  identityProvider?: unknown;

  @Field(() => [UserError], { description: 'INVALID_INPUT, NAME_TAKEN or NOT_FOUND; empty on success.' })
  errors!: UserError[];
}
