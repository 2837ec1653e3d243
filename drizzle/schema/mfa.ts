import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';
import { groups, users } from './user.js';

/**
 * A provisioning: which directory groups feed the MFA directory. `draft` is edited freely;
 * `deployed` (a copy made by Save & Deploy, versioned) is the only configuration syncs read.
 */
export const provisionings = pgTable(
  'provisionings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    draft: jsonb('draft').notNull(),
    deployed: jsonb('deployed'),
    deployedVersion: integer('deployed_version').notNull().default(0),
    deployedAt: timestamp('deployed_at', { withTimezone: true }),
    nextSyncAt: timestamp('next_sync_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('uniq_provisionings_tenant_name').on(t.tenantId, sql`lower(${t.name})`),
    // At most one EAA provisioning per tenant; SCIM provisionings are many (names unique).
    uniqueIndex('uniq_provisionings_tenant_kind')
      .on(t.tenantId, t.kind)
      .where(sql`${t.kind} = 'EAA'`),
    index('idx_provisionings_next_sync').on(t.nextSyncAt),
  ],
);

/** MFA users. `provisioning_id` null means source MANUAL. */
export const mfaUsers = pgTable(
  'mfa_users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provisioningId: uuid('provisioning_id').references(() => provisionings.id, { onDelete: 'set null' }),
    directoryUserId: uuid('directory_user_id').references(() => users.id, { onDelete: 'set null' }),
    username: text('username').notNull(),
    email: text('email'),
    firstName: text('first_name').notNull().default(''),
    lastName: text('last_name').notNull().default(''),
    /** UNENROLLED | ACTIVE */
    status: text('status').notNull().default('UNENROLLED'),
    /**
     * Set while the user's source suspends them (directory user disabled but still selected;
     * SCIM `active=false`): the vendor's PROVISIONING_DISABLED, devices kept so that re-enabling
     * needs no re-enrolment. Null: not suspended.
     */
    suspendedAt: timestamp('suspended_at', { withTimezone: true }),
    /** SCIM `externalId`: the identity provider's own id for the user (null outside SCIM). */
    externalId: text('external_id'),
    /** SCIM `displayName`, as the identity provider sent it (null: derived from the names). */
    displayName: text('display_name'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('uniq_mfa_users_tenant_username').on(t.tenantId, sql`lower(${t.username})`),
    uniqueIndex('uniq_mfa_users_source_user')
      .on(t.provisioningId, t.directoryUserId)
      .where(sql`${t.provisioningId} is not null and ${t.directoryUserId} is not null`),
    index('idx_mfa_users_tenant_email').on(t.tenantId, sql`lower(${t.email})`),
    // SCIM filters on externalId within one provisioning (Entra matches users by it).
    index('idx_mfa_users_external_id')
      .on(t.provisioningId, t.externalId)
      .where(sql`${t.externalId} is not null`),
    // The sync walks a provisioning's users in id order (removal planning) …
    index('idx_mfa_users_provisioning').on(t.provisioningId, t.id),
    // … and matches MANUAL users by directory link; also serves ON DELETE SET NULL from users.
    index('idx_mfa_users_directory_user').on(t.directoryUserId),
  ],
);

export const mfaGroups = pgTable(
  'mfa_groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provisioningId: uuid('provisioning_id').references(() => provisionings.id, { onDelete: 'set null' }),
    directoryGroupId: uuid('directory_group_id').references(() => groups.id, { onDelete: 'set null' }),
    name: text('name').notNull(),
    /** SCIM `externalId` of the group (null outside SCIM). */
    externalId: text('external_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Last change of name or members through SCIM (its `meta.lastModified` and ETag). */
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('idx_mfa_groups_provisioning').on(t.provisioningId, t.id),
    uniqueIndex('uniq_mfa_groups_tenant_name').on(t.tenantId, sql`lower(${t.name})`),
    uniqueIndex('uniq_mfa_groups_source_group')
      .on(t.provisioningId, t.directoryGroupId)
      .where(sql`${t.provisioningId} is not null and ${t.directoryGroupId} is not null`),
  ],
);

export const mfaGroupMemberships = pgTable(
  'mfa_group_memberships',
  {
    mfaGroupId: uuid('mfa_group_id')
      .notNull()
      .references(() => mfaGroups.id, { onDelete: 'cascade' }),
    mfaUserId: uuid('mfa_user_id')
      .notNull()
      .references(() => mfaUsers.id, { onDelete: 'cascade' }),
    tenantId: uuid('tenant_id').notNull(),
  },
  (t) => [
    primaryKey({ name: 'mfa_group_memberships_pkey', columns: [t.mfaGroupId, t.mfaUserId] }),
    index('idx_mfa_memberships_user').on(t.mfaUserId),
  ],
);

/** Enrolled authenticators. Deleting an MFA user deletes its devices (re-added users enrol again). */
export const mfaDevices = pgTable(
  'mfa_devices',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull(),
    mfaUserId: uuid('mfa_user_id')
      .notNull()
      .references(() => mfaUsers.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** TOTP | PUSH | WEBAUTHN | SMS */
    kind: text('kind').notNull().default('TOTP'),
    /**
     * PENDING (a TOTP secret handed out, no correct code yet: not a device of the user, not
     * listed, never verified) | ACTIVE | DISABLED (kept, refused by verification).
     */
    status: text('status').notNull().default('ACTIVE'),
    /** The TOTP secret sealed with the server key (context `totp:<device id>`), base64; never returned after enrolment. */
    secretSealed: text('secret_sealed'),
    /** Last TOTP time step accepted: a code of this step or an earlier one is a replay. */
    lastUsedStep: bigint('last_used_step', { mode: 'number' }),
    /** The enrolment link a PENDING device was begun with; confirming uses that link. */
    enrollmentTokenId: uuid('enrollment_token_id').references(() => mfaEnrollmentTokens.id, { onDelete: 'set null' }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    /** WebAuthn: the credential id (base64url), unique across the service. */
    credentialId: text('credential_id'),
    /** WebAuthn: the COSE public key (base64url); public, so stored as it is. */
    publicKey: text('public_key'),
    /** WebAuthn: the authenticator's signature counter last seen; an assertion must move it forward (or both stay 0). */
    signCount: bigint('sign_count', { mode: 'number' }),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('idx_mfa_devices_user').on(t.mfaUserId),
    index('idx_mfa_devices_enrollment_token').on(t.enrollmentTokenId),
    uniqueIndex('uniq_mfa_devices_credential')
      .on(t.credentialId)
      .where(sql`${t.credentialId} is not null`),
  ],
);

/**
 * WebAuthn challenges, kept server-side: each is used once (`used_at`) before `expires_at`.
 * REGISTER ones belong to an enrolment link; AUTHENTICATE ones to an MFA user.
 */
export const mfaWebauthnChallenges = pgTable(
  'mfa_webauthn_challenges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull(),
    mfaUserId: uuid('mfa_user_id')
      .notNull()
      .references(() => mfaUsers.id, { onDelete: 'cascade' }),
    /** REGISTER | AUTHENTICATE */
    purpose: text('purpose').notNull(),
    challenge: text('challenge').notNull(),
    enrollmentTokenId: uuid('enrollment_token_id').references(() => mfaEnrollmentTokens.id, { onDelete: 'cascade' }),
    deviceName: text('device_name'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('uniq_mfa_webauthn_challenges_challenge').on(t.challenge), index('idx_mfa_webauthn_challenges_user').on(t.mfaUserId)],
);

/** Every verification attempt (`verifyMfa`), kept with its user: what an administrator reads on the MFA user. */
export const mfaVerifications = pgTable(
  'mfa_verifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull(),
    mfaUserId: uuid('mfa_user_id')
      .notNull()
      .references(() => mfaUsers.id, { onDelete: 'cascade' }),
    /** The device whose code or key was accepted (or named by the caller); null when none matched. */
    deviceId: uuid('device_id').references(() => mfaDevices.id, { onDelete: 'set null' }),
    /** TOTP | WEBAUTHN | BYPASS_CODE */
    method: text('method').notNull(),
    /** VERIFIED | REJECTED | LOCKED */
    result: text('result').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('idx_mfa_verifications_user').on(t.mfaUserId, t.createdAt, t.id)],
);

/** One-time bypass codes an administrator issues (lost device): only the SHA-256 is stored; each is used once. */
export const mfaBypassCodes = pgTable(
  'mfa_bypass_codes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull(),
    mfaUserId: uuid('mfa_user_id')
      .notNull()
      .references(() => mfaUsers.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('idx_mfa_bypass_codes_user').on(t.mfaUserId, t.codeHash)],
);

/** Enrolment links: only the SHA-256 of the token is stored; each link enrols one device (`used_at`). */
export const mfaEnrollmentTokens = pgTable(
  'mfa_enrollment_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull(),
    mfaUserId: uuid('mfa_user_id')
      .notNull()
      .references(() => mfaUsers.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('uniq_mfa_enrollment_tokens_hash').on(t.tokenHash), index('idx_mfa_enrollment_tokens_user').on(t.mfaUserId)],
);

/**
 * One sync of a provisioning. At most one active run per provisioning, enforced by the
 * partial unique index (not by process memory), so concurrent requests and replicas agree.
 */
export const syncRuns = pgTable(
  'sync_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provisioningId: uuid('provisioning_id')
      .notNull()
      .references(() => provisionings.id, { onDelete: 'cascade' }),
    deployedVersion: integer('deployed_version').notNull(),
    /** The job entitled to execute this run; a stale job (an earlier attempt of an approved run) finds another id and stops. */
    jobId: uuid('job_id'),
    /** The deployed configuration snapshot this run plans and applies (group ids resolved), so a redeploy mid-run changes nothing. */
    config: jsonb('config'),
    /** Checkpoint of the current phase: the last key handled (resumes after a crash continue from here). */
    cursor: text('cursor'),
    /** MANUAL | SCHEDULED */
    trigger: text('trigger').notNull(),
    /** QUEUED | RUNNING | AWAITING_APPROVAL | COMPLETED | FAILED | CANCELLED */
    status: text('status').notNull(),
    phase: text('phase').notNull().default('QUEUED'),
    approved: boolean('approved').notNull().default(false),
    desiredTotal: integer('desired_total').notNull().default(0),
    staged: integer('staged').notNull().default(0),
    planned: integer('planned').notNull().default(0),
    plannedCreates: integer('planned_creates').notNull().default(0),
    plannedUpdates: integer('planned_updates').notNull().default(0),
    plannedClaims: integer('planned_claims').notNull().default(0),
    plannedRemovals: integer('planned_removals').notNull().default(0),
    plannedDevicesRemoved: integer('planned_devices_removed').notNull().default(0),
    ownedAtPlan: integer('owned_at_plan').notNull().default(0),
    created: integer('created').notNull().default(0),
    updated: integer('updated').notNull().default(0),
    removed: integer('removed').notNull().default(0),
    claimed: integer('claimed').notNull().default(0),
    skipped: integer('skipped').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    devicesRemoved: integer('devices_removed').notNull().default(0),
    errors: jsonb('errors')
      .notNull()
      .default(sql`'[]'::jsonb`),
    error: text('error'),
    requestedBy: uuid('requested_by'),
    /** The API token that asked for a manual run (no foreign key: the record outlives a deleted token). */
    requestedByTokenId: uuid('requested_by_token_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    plannedAt: timestamp('planned_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** Staging rows (desired set, removal set) of an ended run are deleted in the background; true once gone. */
    stagingCleared: boolean('staging_cleared').notNull().default(false),
  },
  (t) => [
    uniqueIndex('uniq_sync_runs_active')
      .on(t.provisioningId)
      .where(sql`${t.status} in ('QUEUED', 'RUNNING', 'AWAITING_APPROVAL')`),
    index('idx_sync_runs_provisioning').on(t.provisioningId, t.createdAt),
    index('idx_sync_runs_uncleared')
      .on(t.id)
      .where(sql`${t.stagingCleared} = false`),
  ],
);

/** The removal set of a run's plan (what a guarded run stopped on: approval removes only these). */
export const syncRunRemovals = pgTable(
  'sync_run_removals',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    mfaUserId: uuid('mfa_user_id').notNull(),
    devices: integer('devices').notNull().default(0),
  },
  (t) => [primaryKey({ name: 'sync_run_removals_pkey', columns: [t.runId, t.mfaUserId] })],
);

/**
 * The plan of a run: every desired directory user the plan acts on or reports, with its action
 * (CREATE, UPDATE, CLAIM, SKIP, FAIL) and the MFA user it maps to; users to KEEP are only
 * counted (`sync_runs.staged`). Written in chunks while planning; the apply phases walk it by
 * `user_id`.
 */
export const syncRunDesired = pgTable(
  'sync_run_desired',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    username: text('username').notNull(),
    email: text('email'),
    firstName: text('first_name').notNull(),
    lastName: text('last_name').notNull(),
    action: text('action').notNull().default('KEEP'),
    mfaUserId: uuid('mfa_user_id'),
    errorCode: text('error_code'),
  },
  (t) => [primaryKey({ name: 'sync_run_desired_pkey', columns: [t.runId, t.userId] })],
);
