import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { Node } from '../node/node.types.js';

export enum ProvisioningKind {
  EAA = 'EAA',
  SCIM = 'SCIM',
}
registerEnumType(ProvisioningKind, {
  name: 'ProvisioningKind',
  description: 'Kind of provisioning source.',
  valuesConfig: {
    EAA: { description: 'Users and groups of the tenant’s directories (needs the EAA and MFA entitlements).' },
    SCIM: {
      description:
        'Users and groups pushed by an external identity provider (Okta, Entra ID, any RFC 7644 client) to `scimBaseUrl` with the bearer token shown once; needs the MFA entitlement. Many per tenant.',
    },
  },
});

export enum OwnedUsersOnDelete {
  KEEP_AS_MANUAL = 'KEEP_AS_MANUAL',
  REMOVE = 'REMOVE',
}
registerEnumType(OwnedUsersOnDelete, {
  name: 'OwnedUsersOnDelete',
  description: 'What deleting a provisioning does to the MFA users and groups it owns.',
  valuesConfig: {
    KEEP_AS_MANUAL: { description: 'They stay, with their devices, and become MANUAL.' },
    REMOVE: { description: 'They are removed with their enrolled devices (the payload reports how many).' },
  },
});

@ObjectType({ description: 'A directory associated with a provisioning and its groups enabled for MFA.' })
export class ProvisioningDirectory {
  @Field(() => ID, { description: 'Global id of the directory.' })
  directoryId!: string;

  @Field(() => String, { nullable: true, description: 'Its name (null if it was deleted since).' })
  directoryName!: string | null;

  @Field(() => [ID], { description: 'Global ids of the enabled groups.' })
  groupIds!: string[];

  @Field(() => [String], { description: 'Names of the enabled groups that still exist.' })
  groupNames!: string[];
}

@ObjectType({ description: 'A provisioning configuration (draft or deployed).' })
export class ProvisioningConfig {
  @Field(() => [ProvisioningDirectory], { description: 'Associated directories and their enabled groups.' })
  directories!: ProvisioningDirectory[];

  @Field(() => Boolean, { description: 'Email an enrolment link to every newly created MFA user with an email.' })
  sendEnrollmentEmails!: boolean;

  @Field(() => Boolean, {
    description: 'Claim matching MANUAL MFA users and groups (source changes, devices stay, no email); otherwise they are skipped.',
  })
  includeManuallyProvisionedUsers!: boolean;

  @Field(() => Int, { description: 'Minutes between automatic syncs (default 360).' })
  syncIntervalMinutes!: number;

  @Field(() => Int, { description: 'Removal guard: a run removing more users than this waits for approval (default 500).' })
  removalGuardMaxUsers!: number;

  @Field(() => Float, {
    description: 'Removal guard: a run removing more than this percentage of owned users waits for approval (default 10).',
  })
  removalGuardMaxPercent!: number;

  @Field(() => OwnedUsersOnDelete, {
    description:
      'SCIM only: what a SCIM DELETE of a user does. REMOVE (default) deletes the MFA user with its devices; KEEP_AS_MANUAL releases it to MANUAL with its devices.',
  })
  scimDeletedUsers!: OwnedUsersOnDelete;
}

export interface ConfigJson {
  directories: { directoryId: string; groupIds: string[] }[];
  sendEnrollmentEmails: boolean;
  includeManuallyProvisionedUsers: boolean;
  syncIntervalMinutes: number;
  removalGuardMaxUsers: number;
  removalGuardMaxPercent: number;
  scimDeletedUsers: 'REMOVE' | 'KEEP_AS_MANUAL';
}

export const DEFAULT_CONFIG: ConfigJson = {
  directories: [],
  sendEnrollmentEmails: true,
  includeManuallyProvisionedUsers: false,
  syncIntervalMinutes: 360,
  removalGuardMaxUsers: 500,
  removalGuardMaxPercent: 10,
  scimDeletedUsers: 'REMOVE',
};

/** A stored configuration document with the defaults filled in (documents written before a setting existed lack it). */
export function configOf(json: unknown): ConfigJson {
  return { ...DEFAULT_CONFIG, ...(json as Partial<ConfigJson>) };
}

@ObjectType({ implements: Node, description: 'A source that provisions the MFA directory from the tenant’s directories.' })
export class Provisioning {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => ProvisioningKind, { description: 'Kind (EAA or SCIM).' })
  kind!: ProvisioningKind;

  @Field(() => String, { description: 'Name, unique in the tenant ignoring case.' })
  name!: string;

  @Field(() => ProvisioningConfig, {
    description:
      'The draft being edited; syncs ignore it until deployed. SCIM provisionings have no deploy: their draft settings apply to the next SCIM request.',
  })
  draft!: ProvisioningConfig;

  @Field(() => ProvisioningConfig, { nullable: true, description: 'The configuration syncs use; null until the first Save & Deploy.' })
  deployed!: ProvisioningConfig | null;

  @Field(() => Int, { description: 'Deployed version, 0 before the first deploy.' })
  deployedVersion!: number;

  @Field(() => Date, { nullable: true, description: 'When the deployed configuration was deployed.' })
  deployedAt!: Date | null;

  @Field(() => Boolean, { description: 'Whether the draft differs from the deployed configuration.' })
  hasUndeployedChanges!: boolean;

  @Field(() => Date, { nullable: true, description: 'When the next automatic sync is due.' })
  nextSyncAt!: Date | null;

  @Field(() => Int, { description: 'MFA users owned by this provisioning.' })
  ownedUserCount!: number;

  @Field(() => Date, { description: 'When it was created.' })
  createdAt!: Date;
}

export interface ProvisioningRow {
  id: string;
  tenantId: string;
  kind: string;
  name: string;
  draft: unknown;
  deployed: unknown;
  deployedVersion: number;
  deployedAt: Date | null;
  nextSyncAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

@InputType({ description: 'A new provisioning.' })
export class CreateProvisioningInput {
  @Field(() => ProvisioningKind, { description: 'Kind: EAA (at most one per tenant) or SCIM (many).' })
  kind!: ProvisioningKind;

  @Field(() => String, { description: 'Name, unique in the tenant ignoring case.' })
  name!: string;
}

@InputType({ description: 'Draft settings; omitted fields stay as they are.' })
export class UpdateProvisioningInput {
  @Field(() => ID, { description: 'The provisioning.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'New name (takes effect at once; not part of the draft).' })
  name?: string;

  @Field(() => Boolean, { nullable: true, description: 'Draft: send enrolment emails.' })
  sendEnrollmentEmails?: boolean;

  @Field(() => Boolean, { nullable: true, description: 'Draft: include manually provisioned users.' })
  includeManuallyProvisionedUsers?: boolean;

  @Field(() => Int, { nullable: true, description: 'Draft: minutes between automatic syncs (1–10080).' })
  syncIntervalMinutes?: number;

  @Field(() => Int, { nullable: true, description: 'Draft: removal guard user count (≥ 0).' })
  removalGuardMaxUsers?: number;

  @Field(() => Float, { nullable: true, description: 'Draft: removal guard percentage (0–100).' })
  removalGuardMaxPercent?: number;

  @Field(() => OwnedUsersOnDelete, { nullable: true, description: 'SCIM only: what a SCIM DELETE of a user does (applies at once).' })
  scimDeletedUsers?: OwnedUsersOnDelete;
}

@InputType({ description: 'Replaces the draft’s associated directories. Groups of directories that stay are kept.' })
export class SetProvisioningDirectoriesInput {
  @Field(() => ID, { description: 'The provisioning.' })
  id!: string;

  @Field(() => [ID], { description: 'Directories to associate.' })
  directoryIds!: string[];
}

@InputType({ description: 'Replaces the draft’s enabled groups of one associated directory.' })
export class SetProvisioningGroupsInput {
  @Field(() => ID, { description: 'The provisioning.' })
  id!: string;

  @Field(() => ID, { description: 'An associated directory.' })
  directoryId!: string;

  @Field(() => [ID], { description: 'Groups of that directory to enable for MFA.' })
  groupIds!: string[];
}

@InputType({ description: 'Identifies a provisioning.' })
export class ProvisioningIdInput {
  @Field(() => ID, { description: 'The provisioning.' })
  id!: string;
}

@InputType({ description: 'Deletes a provisioning.' })
export class DeleteProvisioningInput {
  @Field(() => ID, { description: 'The provisioning.' })
  id!: string;

  @Field(() => OwnedUsersOnDelete, { description: 'What happens to the MFA users and groups it owns. There is no default: choose.' })
  ownedUsers!: OwnedUsersOnDelete;
}

@ObjectType({ description: 'Result of a provisioning mutation.' })
export class ProvisioningPayload {
  @Field(() => Provisioning, { nullable: true, description: 'The provisioning after the change.' })
  provisioning?: unknown;

  @Field(() => String, {
    nullable: true,
    description:
      'createProvisioning of kind SCIM only: the bearer token for `scimBaseUrl`. Shown this once (only its hash is stored); rotate it with rotateScimToken.',
  })
  scimToken?: string | null;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}

@ObjectType({ description: 'Result of `deleteProvisioning`.' })
export class DeleteProvisioningPayload {
  @Field(() => ID, { nullable: true, description: 'Global id of the deleted provisioning.' })
  deletedProvisioningId?: string | null;

  @Field(() => Int, { nullable: true, description: 'MFA users removed (REMOVE) or turned MANUAL (KEEP_AS_MANUAL).' })
  affectedUsers?: number | null;

  @Field(() => Int, { nullable: true, description: 'Enrolled devices destroyed (REMOVE only).' })
  devicesRemoved?: number | null;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}
