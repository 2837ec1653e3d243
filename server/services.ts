import type { Env } from './env.js';
import type { Database } from './shared/db.js';
import type { Logger } from './shared/logger.js';
import type { PubSub } from './shared/pubsub.js';
import type { JobQueue } from './shared/jobs/queue.js';
import { createLoaders, type Loaders } from './loaders.js';
import { AuthService } from './modules/auth/auth.service.js';
import { AuthStore } from './modules/auth/auth.store.js';
import { DirectoryService } from './modules/directory/directory.service.js';
import { DirectoryStore } from './modules/directory/directory.store.js';
import { GroupService } from './modules/group/group.service.js';
import { GroupStore, GroupWriteStore } from './modules/group/group.store.js';
import { MailService } from './modules/mail/mail.service.js';
import { BulkOperationService } from './modules/bulk-operation/bulk-operation.service.js';
import { BulkOperationStore } from './modules/bulk-operation/bulk-operation.store.js';
import { MfaService } from './modules/mfa/mfa.service.js';
import { MfaStore } from './modules/mfa/mfa.store.js';
import { ProvisioningService } from './modules/provisioning/provisioning.service.js';
import { ProvisioningStore } from './modules/provisioning/provisioning.store.js';
import { SyncService } from './modules/provisioning/sync.service.js';
import { SyncStore } from './modules/provisioning/sync.store.js';
import path from 'node:path';
import { IdentityProviderService } from './modules/identity-provider/identity-provider.service.js';
import { IdentityProviderStore } from './modules/identity-provider/identity-provider.store.js';
import { TenantService } from './modules/tenant/tenant.service.js';
import { TenantStore } from './modules/tenant/tenant.store.js';
import { UserService } from './modules/user/user.service.js';
import { UserStore, UserWriteStore } from './modules/user/user.store.js';
import { InvitationService } from './modules/invitation/invitation.service.js';
import { InvitationStore } from './modules/invitation/invitation.store.js';

export interface Stores {
  tenants: TenantStore;
  directories: DirectoryStore;
  users: UserStore;
  userWrites: UserWriteStore;
  groups: GroupStore;
  groupWrites: GroupWriteStore;
  invitations: InvitationStore;
  identityProviders: IdentityProviderStore;
  mfa: MfaStore;
  provisionings: ProvisioningStore;
  sync: SyncStore;
  bulk: BulkOperationStore;
  auth: AuthStore;
}

export interface Services {
  env: Env;
  log: Logger;
  pubsub: PubSub;
  /** The shared PostgreSQL-backed job queue; modules register handlers in createServices. */
  jobs: JobQueue;
  database: Database;
  stores: Stores;
  tenants: TenantService;
  directories: DirectoryService;
  users: UserService;
  groups: GroupService;
  identityProviders: IdentityProviderService;
  auth: AuthService;
  mail: MailService;
  invitations: InvitationService;
  mfa: MfaService;
  provisionings: ProvisioningService;
  syncs: SyncService;
  bulk: BulkOperationService;
  /** Per-request DataLoaders scoped to one tenant. */
  createLoaders(tenantId: string | null): Loaders;
}

/** Wires stores and services once per process. */
export function createServices(deps: {
  env: Env;
  database: Database;
  log: Logger;
  pubsub: PubSub;
  jobs: JobQueue;
}): Services {
  const { env, database, log, pubsub, jobs } = deps;
  const db = database.db;
  const stores: Stores = {
    tenants: new TenantStore(db),
    directories: new DirectoryStore(db),
    users: new UserStore(db),
    userWrites: new UserWriteStore(db),
    groups: new GroupStore(db),
    groupWrites: new GroupWriteStore(db),
    invitations: new InvitationStore(db),
    mfa: new MfaStore(db),
    provisionings: new ProvisioningStore(db),
    sync: new SyncStore(),
    bulk: new BulkOperationStore(db),
    identityProviders: new IdentityProviderStore(db),
    auth: new AuthStore(db),
  };
  const mail = new MailService(db, jobs, log.child({ component: 'mail' }), {
    smtpUrl: env.SMTP_URL,
    from: env.MAIL_FROM,
    mailboxDir: path.resolve(env.DATA_DIR, 'mailbox'),
  });
  mail.registerWorker();
  const invitations = new InvitationService(db, stores.invitations, mail, {
    portalBaseUrl: env.PORTAL_BASE_URL,
    ttlMs: env.INVITATION_TTL_HOURS * 3600_000,
  });
  const mfa = new MfaService(db, stores.mfa, mail, stores.tenants, { portalBaseUrl: env.PORTAL_BASE_URL, ttlMs: env.INVITATION_TTL_HOURS * 3600_000 });
  const syncs = new SyncService(db, stores.provisionings, stores.sync, stores.tenants, mfa, jobs, pubsub, log.child({ component: 'sync' }), {
    chunkSize: env.SYNC_CHUNK_SIZE,
    sharesOneConnection: database.engine === 'pglite',
  });
  syncs.register();
  const bulk = new BulkOperationService(db, stores.bulk, stores.directories, invitations, jobs, pubsub);
  bulk.register();
  return {
    env,
    log,
    pubsub,
    jobs,
    database,
    stores,
    tenants: new TenantService(stores.tenants),
    directories: new DirectoryService(db, stores.directories),
    users: new UserService({
      db,
      users: stores.users,
      userWrites: stores.userWrites,
      groups: stores.groups,
      groupWrites: stores.groupWrites,
      directories: stores.directories,
      identityProviders: stores.identityProviders,
      invitations,
    }),
    groups: new GroupService(db, stores.groups, stores.groupWrites, stores.directories, stores.users),
    identityProviders: new IdentityProviderService(stores.identityProviders, env.PORTAL_BASE_URL, stores.directories),
    auth: new AuthService(stores.auth, stores.tenants, env.SESSION_TTL_HOURS * 3600_000),
    mail,
    invitations,
    mfa,
    provisionings: new ProvisioningService(db, stores.provisionings, stores.tenants, stores.directories, stores.groups),
    syncs,
    bulk,
    createLoaders: (tenantId) => createLoaders(stores, tenantId, { invitations, mail }),
  };
}
