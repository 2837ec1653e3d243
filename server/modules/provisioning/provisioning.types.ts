import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import type { syncRuns } from '../../../drizzle/schema/index.js';
import { Node } from '../node/node.types.js';

export enum ProvisioningKind {
  EAA = 'EAA',
}
registerEnumType(ProvisioningKind, {
  name: 'ProvisioningKind',
  description: 'Kind of provisioning source.',
  valuesConfig: { EAA: { description: 'Users and groups of the tenant’s directories (needs the EAA and MFA entitlements).' } },
});

export enum SyncTrigger {
  MANUAL = 'MANUAL',
  SCHEDULED = 'SCHEDULED',
}
registerEnumType(SyncTrigger, {
  name: 'SyncTrigger',
  description: 'What started a sync run.',
  valuesConfig: { MANUAL: { description: 'An admin pressed Sync.' }, SCHEDULED: { description: 'The sync interval elapsed.' } },
});

export enum SyncRunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  AWAITING_APPROVAL = 'AWAITING_APPROVAL',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(SyncRunStatus, {
  name: 'SyncRunStatus',
  description: 'State of a sync run.',
  valuesConfig: {
    QUEUED: { description: 'Waiting for a worker.' },
    RUNNING: { description: 'Being applied.' },
    AWAITING_APPROVAL: { description: 'Stopped by the removal guard: approve (`approveSyncRun`) or cancel (`cancelSyncRun`) its plan.' },
    COMPLETED: { description: 'Finished; counts are final.' },
    FAILED: { description: 'Stopped by an error; `error` says why. What was applied stays applied; the next run converges.' },
    CANCELLED: { description: 'Cancelled before completing.' },
  },
});

export enum SyncPhase {
  QUEUED = 'QUEUED',
  PLANNING = 'PLANNING',
  AWAITING_APPROVAL = 'AWAITING_APPROVAL',
  GROUPS = 'GROUPS',
  CLAIM = 'CLAIM',
  CREATE = 'CREATE',
  UPDATE = 'UPDATE',
  REMOVE = 'REMOVE',
  DONE = 'DONE',
}
registerEnumType(SyncPhase, {
  name: 'SyncPhase',
  description: 'Where a sync run is. Phases with nothing planned are skipped.',
  valuesConfig: {
    QUEUED: { description: 'Not started yet.' },
    PLANNING: { description: 'Computing the plan: the desired users with their actions, then the removal set. Nothing is written to the MFA directory.' },
    AWAITING_APPROVAL: { description: 'Stopped by the removal guard with its plan stored.' },
    GROUPS: { description: 'Creating, claiming, renaming and removing MFA groups.' },
    CLAIM: { description: 'Claiming matching MANUAL users.' },
    CREATE: { description: 'Creating MFA users (and queueing enrolment emails).' },
    UPDATE: { description: 'Updating names, emails, usernames and group memberships.' },
    REMOVE: { description: 'Removing MFA users no longer selected, with their devices.' },
    DONE: { description: 'Finished.' },
  },
});

export enum PlanSource {
  DEPLOYED = 'DEPLOYED',
  DRAFT = 'DRAFT',
  RUN = 'RUN',
}
registerEnumType(PlanSource, {
  name: 'PlanSource',
  description: 'Which configuration a plan was computed from.',
  valuesConfig: {
    DEPLOYED: { description: 'The deployed configuration, now (`previewSync`).' },
    DRAFT: { description: 'The draft, now (`previewSync(draft: true)`, or before the first deploy).' },
    RUN: { description: 'The plan a run computed and applies (`SyncRun.plan`).' },
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

  @Field(() => Float, { description: 'Removal guard: a run removing more than this percentage of owned users waits for approval (default 10).' })
  removalGuardMaxPercent!: number;
}

export interface ConfigJson {
  directories: { directoryId: string; groupIds: string[] }[];
  sendEnrollmentEmails: boolean;
  includeManuallyProvisionedUsers: boolean;
  syncIntervalMinutes: number;
  removalGuardMaxUsers: number;
  removalGuardMaxPercent: number;
}

export const DEFAULT_CONFIG: ConfigJson = {
  directories: [],
  sendEnrollmentEmails: true,
  includeManuallyProvisionedUsers: false,
  syncIntervalMinutes: 360,
  removalGuardMaxUsers: 500,
  removalGuardMaxPercent: 10,
};

@ObjectType({ implements: Node, description: 'A source that provisions the MFA directory from the tenant’s directories.' })
export class Provisioning {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => ProvisioningKind, { description: 'Kind (EAA).' })
  kind!: ProvisioningKind;

  @Field(() => String, { description: 'Name, unique in the tenant ignoring case.' })
  name!: string;

  @Field(() => ProvisioningConfig, { description: 'The draft being edited; syncs ignore it until deployed.' })
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

@ObjectType({ description: 'A per-user failure of a sync run.' })
export class SyncRunError {
  @Field(() => ID, { nullable: true, description: 'Global id of the directory user.' })
  directoryUserId!: string | null;

  @Field(() => String, { nullable: true, description: 'Username.' })
  username!: string | null;

  @Field(() => String, { description: 'Machine-readable reason.' })
  code!: string;

  @Field(() => String, { description: 'Explanation.' })
  message!: string;
}

@ObjectType({ implements: Node, description: 'One sync of a provisioning.' })
export class SyncRun {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => ID, { description: 'Global id of the provisioning.' })
  provisioningId!: string;

  @Field(() => Int, { description: 'Deployed configuration version it runs.' })
  deployedVersion!: number;

  @Field(() => SyncTrigger, { description: 'What started it.' })
  trigger!: SyncTrigger;

  @Field(() => SyncRunStatus, { description: 'State.' })
  status!: SyncRunStatus;

  @Field(() => SyncPhase, { description: 'Current phase (a failed or cancelled run keeps the phase it stopped in).' })
  phase!: SyncPhase;

  @Field(() => Boolean, { description: 'Whether an admin approved this run’s plan after the removal guard stopped it.' })
  approved!: boolean;

  @Field(() => Int, { description: 'Users in the desired set (members of an enabled group), known once planning starts.' })
  desiredUsers!: number;

  @Field(() => Int, { description: 'Desired users planned so far (equals `desiredUsers` once planning is done).' })
  stagedUsers!: number;

  @Field(() => Int, { description: 'Changes planned (creates + updates + claims + removals).' })
  planned!: number;

  @Field(() => Int, { description: 'Creations planned.' })
  plannedCreates!: number;

  @Field(() => Int, { description: 'Updates planned.' })
  plannedUpdates!: number;

  @Field(() => Int, { description: 'Claims planned.' })
  plannedClaims!: number;

  @Field(() => Int, { description: 'Removals planned.' })
  plannedRemovals!: number;

  @Field(() => Int, { description: 'Enrolled devices the planned removals destroy.' })
  plannedDevicesRemoved!: number;

  @Field(() => Int, { description: 'MFA users created.' })
  created!: number;

  @Field(() => Int, { description: 'MFA users updated.' })
  updated!: number;

  @Field(() => Int, { description: 'MFA users removed (with their devices).' })
  removed!: number;

  @Field(() => Int, { description: 'MANUAL users claimed.' })
  claimed!: number;

  @Field(() => Int, { description: 'MANUAL users left alone (include-manual is off).' })
  skipped!: number;

  @Field(() => Int, { description: 'Users that could not be provisioned (see `errors`).' })
  failed!: number;

  @Field(() => Int, { description: 'Enrolled devices destroyed by removals.' })
  devicesRemoved!: number;

  @Field(() => Float, { description: 'Progress 0–100.' })
  percent!: number;

  @Field(() => [SyncRunError], { description: 'Per-user errors (first 1000).' })
  errors!: SyncRunError[];

  @Field(() => String, { nullable: true, description: 'Why the run failed.' })
  error!: string | null;

  @Field(() => Date, { description: 'When it was requested.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When a worker started it.' })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When its plan was complete.' })
  plannedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it ended.' })
  finishedAt!: Date | null;
}

export const SyncRunConnection = ConnectionType(SyncRun, 'SyncRun');

/** A `sync_runs` row. */
export type SyncRunRow = typeof syncRuns.$inferSelect;

@ObjectType({ description: 'A user a sync would change.' })
export class SyncPlanUser {
  @Field(() => ID, { nullable: true, description: 'Global id of the directory user (null for removals of unlinked users).' })
  directoryUserId!: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the MFA user, when one exists.' })
  mfaUserId!: string | null;

  @Field(() => String, { description: 'Username.' })
  username!: string;

  @Field(() => String, { nullable: true, description: 'Email.' })
  email!: string | null;

  @Field(() => Int, { description: 'Enrolled devices a removal destroys (0 otherwise).' })
  enrolledDevices!: number;
}

@ObjectType({ description: 'What a sync does: counts of every action and the first users of each (lists are capped; counts are totals).' })
export class SyncPlan {
  @Field(() => PlanSource, { description: 'Which configuration it was computed from.' })
  basedOn!: PlanSource;

  @Field(() => Int, { description: 'Deployed configuration version at the time.' })
  deployedVersion!: number;

  @Field(() => Int, { description: 'Users in the desired set (members of at least one enabled group, not disabled).' })
  desiredCount!: number;

  @Field(() => Int, { description: 'MFA users the provisioning owned when the plan was made.' })
  ownedUserCount!: number;

  @Field(() => Int, { description: 'Users to create.' })
  createCount!: number;

  @Field(() => Int, { description: 'Users to update (names, email, username or group memberships).' })
  updateCount!: number;

  @Field(() => Int, { description: 'Owned users already up to date.' })
  keepCount!: number;

  @Field(() => Int, { description: 'MANUAL users to claim.' })
  claimCount!: number;

  @Field(() => Int, { description: 'Matching MANUAL users left alone (include-manual is off).' })
  skipCount!: number;

  @Field(() => Int, { description: 'Users that cannot be provisioned (username used by another MFA user).' })
  failCount!: number;

  @Field(() => Int, { description: 'Users to remove.' })
  removeCount!: number;

  @Field(() => Int, { description: 'Enrolled devices the removals destroy.' })
  devicesRemovedCount!: number;

  @Field(() => Int, { description: 'MFA groups to create.' })
  groupCreateCount!: number;

  @Field(() => Int, { description: 'MANUAL MFA groups to claim.' })
  groupClaimCount!: number;

  @Field(() => Int, { description: 'Owned MFA groups to rename after their directory group.' })
  groupRenameCount!: number;

  @Field(() => Int, { description: 'Owned MFA groups to remove (their group was deselected or deleted).' })
  groupRemoveCount!: number;

  @Field(() => Int, { description: 'Enabled groups without an MFA group because the name is used by another MFA group.' })
  groupSkipCount!: number;

  @Field(() => Boolean, { description: 'Whether the removal guard stops (or stopped) this plan for approval.' })
  requiresApproval!: boolean;

  @Field(() => Int, { description: 'How many users each list holds at most (0 when the lists are no longer available).' })
  listLimit!: number;

  @Field(() => [SyncPlanUser], { description: 'Users to create, by username.' })
  toCreate!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'Users to update, by username.' })
  toUpdate!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'MANUAL users to claim, by username.' })
  toClaim!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'MANUAL users to skip, by username.' })
  toSkip!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'Users that cannot be provisioned, by username.' })
  toFail!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'Users to remove with their enrolled-device counts, by username.' })
  toRemove!: SyncPlanUser[];
}

@InputType({ description: 'A new provisioning.' })
export class CreateProvisioningInput {
  @Field(() => ProvisioningKind, { description: 'Kind (EAA).' })
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

@InputType({ description: 'Identifies a sync run.' })
export class SyncRunIdInput {
  @Field(() => ID, { description: 'The sync run.' })
  runId!: string;
}

@ObjectType({ description: 'Result of a provisioning mutation.' })
export class ProvisioningPayload {
  @Field(() => Provisioning, { nullable: true, description: 'The provisioning after the change.' })
  provisioning?: unknown;

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

@ObjectType({ description: 'Result of a sync-run mutation.' })
export class SyncRunPayload {
  @Field(() => SyncRun, { nullable: true, description: 'The run (for `syncProvisioning`: the new one, or the one already active).' })
  syncRun?: unknown;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}
