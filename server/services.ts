import type { Env } from './env.js';
import type { Database } from './shared/db.js';
import type { Logger } from './shared/logger.js';
import type { PubSub } from './shared/pubsub.js';
import { createLoaders, type Loaders } from './loaders.js';
import { AuthService } from './modules/auth/auth.service.js';
import { AuthStore } from './modules/auth/auth.store.js';
import { DirectoryService } from './modules/directory/directory.service.js';
import { DirectoryStore } from './modules/directory/directory.store.js';
import { GroupService } from './modules/group/group.service.js';
import { GroupStore } from './modules/group/group.store.js';
import { IdentityProviderService } from './modules/identity-provider/identity-provider.service.js';
import { IdentityProviderStore } from './modules/identity-provider/identity-provider.store.js';
import { TenantService } from './modules/tenant/tenant.service.js';
import { TenantStore } from './modules/tenant/tenant.store.js';
import { UserService } from './modules/user/user.service.js';
import { UserStore } from './modules/user/user.store.js';

export interface Stores {
  tenants: TenantStore;
  directories: DirectoryStore;
  users: UserStore;
  groups: GroupStore;
  identityProviders: IdentityProviderStore;
  auth: AuthStore;
}

export interface Services {
  env: Env;
  log: Logger;
  pubsub: PubSub;
  stores: Stores;
  tenants: TenantService;
  directories: DirectoryService;
  users: UserService;
  groups: GroupService;
  identityProviders: IdentityProviderService;
  auth: AuthService;
  /** Per-request DataLoaders scoped to one tenant. */
  createLoaders(tenantId: string | null): Loaders;
}

/** Wires stores and services once per process. */
export function createServices(deps: { env: Env; database: Database; log: Logger; pubsub: PubSub }): Services {
  const { env, database, log, pubsub } = deps;
  const db = database.db;
  const stores: Stores = {
    tenants: new TenantStore(db),
    directories: new DirectoryStore(db),
    users: new UserStore(db),
    groups: new GroupStore(db),
    identityProviders: new IdentityProviderStore(db),
    auth: new AuthStore(db),
  };
  return {
    env,
    log,
    pubsub,
    stores,
    tenants: new TenantService(stores.tenants),
    directories: new DirectoryService(stores.directories),
    users: new UserService(stores.users),
    groups: new GroupService(stores.groups),
    identityProviders: new IdentityProviderService(stores.identityProviders, env.PORTAL_BASE_URL),
    auth: new AuthService(stores.auth, stores.tenants, env.SESSION_TTL_HOURS * 3600_000),
    createLoaders: (tenantId) => createLoaders(stores, tenantId),
  };
}
