import path from 'node:path';
import type { Env } from './env.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { Database } from './shared/db.js';
import { ChunkedRunner } from './shared/jobs/chunked-run.js';
import type { JobQueue } from './shared/jobs/queue.js';
import type { Logger } from './shared/logger.js';
import type { PubSub } from './shared/pubsub.js';
import type { RequestActivity } from './shared/request-activity.js';
import { loadSecretBox } from './shared/secret-key.js';
import { createStores } from './stores.js';
import { ApiTokenService } from './modules/api-token/api-token.service.js';
import { AuditService } from './modules/audit/audit.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import { BulkOperationJob } from './modules/bulk-operation/bulk-operation.job.js';
import { BulkOperationService } from './modules/bulk-operation/bulk-operation.service.js';
import { EndUserSessionService } from './modules/end-user-session/end-user-session.service.js';
import { DirectoryService } from './modules/directory/directory.service.js';
import { GroupService } from './modules/group/group.service.js';
import { IdentityProviderService } from './modules/identity-provider/identity-provider.service.js';
import { InvitationService } from './modules/invitation/invitation.service.js';
import { MailService } from './modules/mail/mail.service.js';
import { MfaDeviceService } from './modules/mfa/mfa-device.service.js';
import { MfaEnrollmentService } from './modules/mfa/mfa-enrollment.service.js';
import { MfaPortalService } from './modules/mfa/mfa-portal.service.js';
import { MfaVerifyService } from './modules/mfa/mfa-verify.service.js';
import { defaultChallengeTtlMs, MfaWebauthnService } from './modules/mfa/mfa-webauthn.service.js';
import { MfaService } from './modules/mfa/mfa.service.js';
import { ProvisioningService } from './modules/provisioning/provisioning.service.js';
import { ScimGroupService } from './modules/scim/scim-groups.service.js';
import { ScimUserService } from './modules/scim/scim-users.service.js';
import { ScimService } from './modules/scim/scim.service.js';
import { SignInLimitService } from './modules/sign-in-limit/sign-in-limit.service.js';
import { SyncRunJob } from './modules/sync-run/sync-run.job.js';
import { SyncRunScheduler } from './modules/sync-run/sync-run.scheduler.js';
import { SyncRunService } from './modules/sync-run/sync-run.service.js';
import { TenantService } from './modules/tenant/tenant.service.js';
import { UserService } from './modules/user/user.service.js';

/** The domain services: what resolvers and HTTP routes may call. No stores, database or configuration. */
export interface Services {
  tenants: TenantService;
  directories: DirectoryService;
  users: UserService;
  groups: GroupService;
  identityProviders: IdentityProviderService;
  auth: AuthService;
  mail: MailService;
  invitations: InvitationService;
  mfa: MfaService;
  /** TOTP enrolment from an enrolment link (GraphQL and the portal's pages). */
  mfaEnrollment: MfaEnrollmentService;
  /** `verifyMfa`: second-factor checks with the per-user lock. */
  mfaVerify: MfaVerifyService;
  /** Administrators' device operations, bypass codes, lock and verification history. */
  mfaDevices: MfaDeviceService;
  /** Security keys and passkeys: registration from an enrolment link. */
  mfaWebauthn: MfaWebauthnService;
  /** The end user's own factors in the portal: enrolment links, the second factor at sign-in, their devices. */
  mfaPortal: MfaPortalService;
  provisionings: ProvisioningService;
  syncRuns: SyncRunService;
  bulk: BulkOperationService;
  apiTokens: ApiTokenService;
  endUserSessions: EndUserSessionService;
  audit: AuditService;
  scim: ScimService;
  scimUsers: ScimUserService;
  scimGroups: ScimGroupService;
}

/** The composition root's product: the services, the per-request loader factory, and the background work. */
export interface Composition {
  services: Services;
  /** Per-request DataLoaders scoped to one tenant. */
  createLoaders(tenantId: string | null): Loaders;
  /** Starts the scheduler (the job queue is started by the caller). */
  startWorkers(): void;
  stopWorkers(): void;
  /** Closes outgoing connections (the SMTP transport); call after the job queue has stopped. */
  closeConnections(): void;
  /** One scheduler pass now (tests; the timer started by `startWorkers` does the same). */
  tickScheduler(): Promise<void>;
  /** Hourly, idempotent clean-up: expired sessions, old finished jobs, stale uploads, forgotten sign-in failures. */
  housekeeping(): Promise<void>;
}

/** Wires stores and services once per process. */
export function createServices(deps: {
  env: Env;
  database: Database;
  log: Logger;
  pubsub: PubSub;
  jobs: JobQueue;
  /** The portal's base URL; by default it follows the port the server listens on, known only after listen. */
  portalBaseUrl: () => string;
  /** The HTTP requests being answered: a sync on PGlite's one connection leaves it to them between chunks. */
  requests: RequestActivity;
}): Composition {
  const { env, database, log, pubsub, jobs, portalBaseUrl, requests } = deps;
  const db = database.db;
  const stores = createStores(db);
  // The server key, once per process: everything sealed at rest (uploads, TOTP secrets) goes through this box.
  const secretBox = loadSecretBox({
    secretKey: env.ROSTER_SECRET_KEY,
    previousKeys: env.ROSTER_SECRET_KEY_PREVIOUS,
    dataDir: env.DATA_DIR,
    warn: (msg) => log.warn(msg),
  });
  log.info({ keyId: secretBox.keyId, source: env.ROSTER_SECRET_KEY ? 'ROSTER_SECRET_KEY' : 'DATA_DIR/secret.key' }, 'server key loaded');
  const audit = new AuditService(stores.audit, { retentionDays: env.AUDIT_RETENTION_DAYS, enabled: env.AUDIT_ENABLED === 'true' }, pubsub);
  const mail = new MailService(stores.mail, jobs, log.child({ component: 'mail' }), {
    smtpUrl: env.SMTP_URL,
    from: env.MAIL_FROM,
    mailboxDir: path.resolve(env.DATA_DIR, 'mailbox'),
    logLinks: env.NODE_ENV !== 'production',
  });
  if (env.NODE_ENV === 'production' && !env.SMTP_URL)
    log.warn(
      { mailboxDir: path.resolve(env.DATA_DIR, 'mailbox') },
      'production without SMTP_URL: invitation and password-reset mail is only written to the local mailbox (links are not logged); set SMTP_URL',
    );
  mail.registerWorker();
  const lockSeconds = Math.round(env.SIGN_IN_LOCK_MINUTES * 60);
  const signInLimits = new SignInLimitService(stores.signInLimits, {
    account: { delayAfter: env.SIGN_IN_DELAY_AFTER, maxFailures: env.SIGN_IN_MAX_FAILURES, lockSeconds },
    address: { delayAfter: env.SIGN_IN_ADDRESS_DELAY_AFTER, maxFailures: env.SIGN_IN_ADDRESS_MAX_FAILURES, lockSeconds },
    // No delays before the lock: the lock itself is the rule for second factors.
    factor: {
      delayAfter: env.MFA_VERIFY_MAX_FAILURES,
      maxFailures: env.MFA_VERIFY_MAX_FAILURES,
      lockSeconds: Math.round(env.MFA_VERIFY_LOCK_MINUTES * 60),
    },
  });
  const auth = new AuthService(
    stores.auth,
    signInLimits,
    env.SESSION_TTL_HOURS * 3600_000,
    pubsub,
    log.child({ component: 'auth' }),
    db,
    audit,
  );
  const mfa = new MfaService(
    db,
    stores.mfa,
    mail,
    stores.tenants,
    signInLimits,
    {
      portalBaseUrl,
      ttlMs: env.INVITATION_TTL_HOURS * 3600_000,
    },
    audit,
  );
  const mfaEnrollment = new MfaEnrollmentService(db, mfa, stores.mfaFactors, stores.tenants, secretBox);
  // The portal serves the WebAuthn pages, so its URL gives the relying party unless configured
  // (its origin is known only once the server listens when PORTAL_BASE_URL is unset, hence lazily).
  const configuredOrigins = env.WEBAUTHN_ORIGINS ? env.WEBAUTHN_ORIGINS.split(',').map((o) => o.trim()) : null;
  const mfaWebauthn = new MfaWebauthnService(db, mfa, stores.mfaFactors, stores.mfaWebauthn, {
    // The host the portal's pages are served on (the port may still be unknown, the host is not):
    // a browser accepts an RP id only if it is that host or a registrable suffix of it.
    rpId: env.WEBAUTHN_RP_ID ?? new URL(portalBaseUrl()).hostname,
    rpName: env.WEBAUTHN_RP_NAME,
    origins: () => configuredOrigins ?? [new URL(portalBaseUrl()).origin],
    challengeTtlMs: defaultChallengeTtlMs,
  });
  const mfaVerify = new MfaVerifyService(stores.mfaFactors, signInLimits, secretBox, mfaWebauthn);
  const mfaDevices = new MfaDeviceService(db, mfa, stores.mfa, stores.mfaFactors, signInLimits, audit);
  const mfaPortal = new MfaPortalService(mfa, stores.mfa, stores.mfaFactors, mfaVerify, mfaDevices, mfaWebauthn);
  const endUserSessions = new EndUserSessionService(
    db,
    stores.endUserSessions,
    signInLimits,
    auth,
    secretBox,
    mfaPortal,
    {
      sessionTtlMs: env.SESSION_TTL_HOURS * 3600_000,
      linkGrantTtlMs: 15 * 60_000,
    },
    audit,
  );
  const invitations = new InvitationService(
    db,
    stores.invitations,
    mail,
    auth,
    endUserSessions,
    signInLimits,
    {
      portalBaseUrl,
      ttlMs: env.INVITATION_TTL_HOURS * 3600_000,
    },
    audit,
  );
  const sharesOneConnection = database.engine === 'pglite';
  const syncLog = log.child({ component: 'sync' });
  const syncRunJob = new SyncRunJob({
    db,
    runs: stores.syncRuns,
    plans: stores.syncPlans,
    apply: stores.syncApply,
    provisionings: stores.provisionings,
    tenants: stores.tenants,
    mfa,
    runner: new ChunkedRunner(db, syncLog, { sharesOneConnection, requests }),
    pubsub,
    log: syncLog,
    chunkSize: env.SYNC_CHUNK_SIZE,
    audit,
  });
  syncRunJob.register(jobs);
  const syncRuns = new SyncRunService({
    db,
    runs: stores.syncRuns,
    plans: stores.syncPlans,
    provisionings: stores.provisionings,
    tenants: stores.tenants,
    job: syncRunJob,
    jobs,
    pubsub,
    sharesOneConnection,
    audit,
  });
  const syncScheduler = new SyncRunScheduler({
    provisionings: stores.provisionings,
    runs: stores.syncRuns,
    service: syncRuns,
    job: syncRunJob,
    pubsub,
    log: syncLog,
  });
  const groups = new GroupService(db, stores.groups, stores.groupWrites, stores.directories, stores.users, auth, audit);
  const users = new UserService({
    db,
    users: stores.users,
    userWrites: stores.userWrites,
    groups,
    directories: stores.directories,
    identityProviders: stores.identityProviders,
    tenants: stores.tenants,
    invitations,
    auth,
    endUserSessions,
    signInLimits,
    audit,
  });
  const bulkJob = new BulkOperationJob({
    db,
    store: stores.bulk,
    users,
    groups,
    invitations,
    mfa,
    jobs,
    pubsub,
    log: log.child({ component: 'bulk' }),
    sharesOneConnection,
    secretBox,
    audit,
  });
  bulkJob.register();
  const bulk = new BulkOperationService(db, stores.bulk, users, groups, bulkJob, jobs, pubsub, secretBox, mfa, audit);
  const scim = new ScimService({
    db,
    store: stores.scim,
    activity: stores.scimActivity,
    provisionings: stores.provisionings,
    limits: signInLimits,
    publicOrigin: () => env.publicOrigin ?? new URL(portalBaseUrl()).origin,
    ratePerMinute: env.SCIM_RATE_LIMIT_PER_MINUTE,
    audit,
  });
  const services: Services = {
    tenants: new TenantService(stores.tenants),
    directories: new DirectoryService(db, stores.directories, audit),
    users,
    groups,
    identityProviders: new IdentityProviderService(stores.identityProviders, portalBaseUrl, stores.directories, db, audit),
    auth,
    mail,
    invitations,
    mfa,
    mfaEnrollment,
    mfaVerify,
    mfaDevices,
    mfaWebauthn,
    mfaPortal,
    provisionings: new ProvisioningService(
      db,
      stores.provisionings,
      stores.tenants,
      stores.directories,
      stores.groups,
      stores.syncRuns,
      scim,
      audit,
    ),
    syncRuns,
    bulk,
    apiTokens: new ApiTokenService(db, stores.apiTokens, auth, audit, env.API_TOKEN_ROTATION_GRACE_HOURS * 3600_000),
    audit,
    endUserSessions,
    scim,
    scimUsers: new ScimUserService({ scim, store: stores.scim, activity: stores.scimActivity, mfa }),
    scimGroups: new ScimGroupService({ scim, store: stores.scim }),
  };
  return {
    services,
    createLoaders: (tenantId) => createLoaders(stores, tenantId, { invitations, mail, signInLimits, mfaDevices }),
    startWorkers: () => syncScheduler.start(env.SYNC_TICK_MS),
    stopWorkers: () => syncScheduler.stop(),
    closeConnections: () => mail.close(),
    tickScheduler: () => syncScheduler.tick(),
    housekeeping: async () => {
      await Promise.all([
        auth.purgeExpiredSessions(),
        endUserSessions.purgeExpired(),
        audit.purgeExpired(),
        jobs.purgeFinished(),
        bulk.purgeUploads(),
        signInLimits.purge(),
        scim.purge(),
      ]);
    },
  };
}
