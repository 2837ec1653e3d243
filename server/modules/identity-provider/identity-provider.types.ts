import { Field, ID, ObjectType } from 'type-graphql';
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
