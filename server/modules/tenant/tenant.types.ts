import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum Entitlement {
  EAA = 'EAA',
  MFA = 'MFA',
}
registerEnumType(Entitlement, {
  name: 'Entitlement',
  description: 'A product the tenant has bought.',
  valuesConfig: {
    EAA: { description: 'Application access (the Cloud Directory and its provisioning source).' },
    MFA: { description: 'The MFA service and its directory.' },
  },
});

export enum FeatureFlag {
  IDP_SELECTION_FOR_INVITES = 'IDP_SELECTION_FOR_INVITES',
}
registerEnumType(FeatureFlag, {
  name: 'FeatureFlag',
  description: 'A limited-availability feature switched on per tenant by the operator.',
  valuesConfig: {
    IDP_SELECTION_FOR_INVITES: {
      description: 'Invitations may name an identity provider other than the default one.',
    },
  },
});

@ObjectType({ description: 'One customer contract. All data belongs to exactly one tenant.' })
export class Tenant {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'URL-safe unique short name, used to sign in.' })
  slug!: string;

  @Field(() => String, { description: 'Display name.' })
  name!: string;

  @Field(() => [Entitlement], { description: 'Products the tenant holds.' })
  entitlements!: Entitlement[];

  @Field(() => [FeatureFlag], { description: 'Feature flags switched on for this tenant.' })
  features!: FeatureFlag[];

  @Field(() => Date, { description: 'When the tenant was created.' })
  createdAt!: Date;
}

/** Row shape used inside the server. */
export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  entitlements: string[];
  features: string[];
  createdAt: Date;
  updatedAt: Date;
}
