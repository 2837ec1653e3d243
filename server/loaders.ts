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

/**
 * Built per operation, for one tenant: a loader can never return another tenant's row, and
 * its cache never outlives the request. Without a viewer the tenant is a uuid matching nothing.
 */
export function createLoaders(
  stores: Stores,
  tenantId: string | null,
  services: { invitations: InvitationService; mail: MailService; signInLimits: SignInLimitService; mfaDevices: MfaDeviceService },
) {
  const t = tenantId ?? '00000000-0000-0000-0000-000000000000';
  return {
    ...createDirectoryLoaders(stores.directories, t),
    ...createUserLoaders(stores.users, t),
    ...createGroupLoaders(stores.groups, t),
    ...createIdentityProviderLoaders(stores.identityProviders, t),
    ...createInvitationLoaders(services.invitations, services.mail, t),
    ...createMfaLoaders(stores.mfa, t),
    ...createMfaFactorLoaders(services.mfaDevices),
    ...createProvisioningLoaders(stores.provisionings, t),
    ...createSyncRunLoaders(stores.syncRuns, t),
    ...createBulkOperationLoaders(stores.bulk, t),
    ...createSignInLimitLoaders(services.signInLimits, t),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
