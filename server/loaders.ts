import type { Stores } from './stores.js';
import { createDirectoryLoaders } from './modules/directory/directory.loaders.js';
import { createGroupLoaders } from './modules/group/group.loaders.js';
import { createIdentityProviderLoaders } from './modules/identity-provider/identity-provider.loaders.js';
import { createUserLoaders } from './modules/user/user.loaders.js';
import { createBulkOperationLoaders } from './modules/bulk-operation/bulk-operation.loaders.js';
import { createMfaFactorLoaders } from './modules/mfa/mfa-factor.loaders.js';
import type { MfaDeviceService } from './modules/mfa/mfa-device.service.js';
import { createMfaLoaders } from './modules/mfa/mfa.loaders.js';
import { createProvisioningLoaders } from './modules/provisioning/provisioning.loaders.js';
import { createSyncRunLoaders } from './modules/sync-run/sync-run.loaders.js';
import { createInvitationLoaders } from './modules/invitation/invitation.loaders.js';
import type { InvitationService } from './modules/invitation/invitation.service.js';
import type { MailService } from './modules/mail/mail.service.js';
import { createSignInLimitLoaders } from './modules/sign-in-limit/sign-in-limit.loaders.js';
import type { SignInLimitService } from './modules/sign-in-limit/sign-in-limit.service.js';

interface Deps {
  stores: Stores;
  /** The tenant every loader is scoped to. */
  t: string;
  services: { invitations: InvitationService; mail: MailService; signInLimits: SignInLimitService; mfaDevices: MfaDeviceService };
}

const modules = [
  (d: Deps) => createDirectoryLoaders(d.stores.directories, d.t),
  (d: Deps) => createUserLoaders(d.stores.users, d.t),
  (d: Deps) => createGroupLoaders(d.stores.groups, d.t),
  (d: Deps) => createIdentityProviderLoaders(d.stores.identityProviders, d.t),
  (d: Deps) => createInvitationLoaders(d.services.invitations, d.services.mail, d.t),
  (d: Deps) => createMfaLoaders(d.stores.mfa, d.t),
  (d: Deps) => createMfaFactorLoaders(d.services.mfaDevices),
  (d: Deps) => createProvisioningLoaders(d.stores.provisionings, d.t),
  (d: Deps) => createSyncRunLoaders(d.stores.syncRuns, d.t),
  (d: Deps) => createBulkOperationLoaders(d.stores.bulk, d.t),
  (d: Deps) => createSignInLimitLoaders(d.services.signInLimits, d.t),
] as const;

type Union<T> = T extends readonly (infer F)[] ? (F extends (d: Deps) => infer R ? R : never) : never;
type Intersect<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
export type Loaders = Intersect<Union<typeof modules>>;

interface LazyLoaders {
  deps: Deps;
  built: unknown[];
}

/**
 * The getters of every loader name: a module's loaders are made the first time one of them is
 * read. A request reads a few (a sign-in: the viewer's groups), and making all of them for
 * every request and subscription event was a measurable share of a small request's CPU.
 * Built once, from the names the module factories return (they only make DataLoaders).
 */
let lazyPrototype: object | undefined;
function prototypeFor(deps: Deps): object {
  if (lazyPrototype) return lazyPrototype;
  const proto = {};
  modules.forEach((make, i) => {
    for (const name of Object.keys(make(deps))) {
      Object.defineProperty(proto, name, {
        enumerable: true,
        get(this: LazyLoaders) {
          const all = (this.built[i] ??= make(this.deps)) as Record<string, unknown>;
          // Later reads find a plain property on the object itself.
          Object.defineProperty(this, name, { value: all[name], enumerable: true });
          return all[name];
        },
      });
    }
  });
  return (lazyPrototype = proto);
}

/**
 * Built per operation, for one tenant: a loader can never return another tenant's row, and
 * its cache never outlives the request. Without a viewer the tenant is a uuid matching nothing.
 */
export function createLoaders(stores: Stores, tenantId: string | null, services: Deps['services']): Loaders {
  const deps: Deps = { stores, t: tenantId ?? '00000000-0000-0000-0000-000000000000', services };
  const loaders = Object.create(prototypeFor(deps)) as LazyLoaders;
  // Not enumerable: the object lists only loader names.
  Object.defineProperty(loaders, 'deps', { value: deps });
  Object.defineProperty(loaders, 'built', { value: [] });
  return loaders as unknown as Loaders;
}
