import type { Db } from './shared/db.js';
import { ApiTokenStore } from './modules/api-token/api-token.store.js';
import { AuditStore } from './modules/audit/audit.store.js';
import { AuthStore } from './modules/auth/auth.store.js';
import { BulkOperationStore } from './modules/bulk-operation/bulk-operation.store.js';
import { DirectoryStore } from './modules/directory/directory.store.js';
import { EndUserSessionStore } from './modules/end-user-session/end-user-session.store.js';
import { GroupStore, GroupWriteStore } from './modules/group/group.store.js';
import { IdentityProviderStore } from './modules/identity-provider/identity-provider.store.js';
import { InvitationStore } from './modules/invitation/invitation.store.js';
import { MailStore } from './modules/mail/mail.store.js';
import { MfaFactorStore } from './modules/mfa/mfa-factor.store.js';
import { MfaWebauthnStore } from './modules/mfa/mfa-webauthn.store.js';
import { MfaStore } from './modules/mfa/mfa.store.js';
import { ProvisioningStore } from './modules/provisioning/provisioning.store.js';
import { ScimActivityStore } from './modules/scim/scim-activity.store.js';
import { ScimStore } from './modules/scim/scim.store.js';
import { SignInLimitStore } from './modules/sign-in-limit/sign-in-limit.store.js';
import { SyncApplyStore } from './modules/sync-run/sync-apply.store.js';
import { SyncPlanStore } from './modules/sync-run/sync-plan.store.js';
import { SyncRunStore } from './modules/sync-run/sync-run.store.js';
import { TenantStore } from './modules/tenant/tenant.store.js';
import { UserStore, UserWriteStore } from './modules/user/user.store.js';

/** Every store, built once per process over one database handle. Only services and loaders see them. */
export function createStores(db: Db) {
  return {
    tenants: new TenantStore(db),
    directories: new DirectoryStore(db),
    users: new UserStore(db),
    userWrites: new UserWriteStore(db),
    groups: new GroupStore(db),
    groupWrites: new GroupWriteStore(db),
    invitations: new InvitationStore(db),
    mail: new MailStore(db),
    mfa: new MfaStore(db),
    mfaFactors: new MfaFactorStore(db),
    mfaWebauthn: new MfaWebauthnStore(db),
    provisionings: new ProvisioningStore(db),
    syncRuns: new SyncRunStore(db),
    syncPlans: new SyncPlanStore(),
    syncApply: new SyncApplyStore(),
    bulk: new BulkOperationStore(db),
    identityProviders: new IdentityProviderStore(db),
    auth: new AuthStore(db),
    signInLimits: new SignInLimitStore(db),
    apiTokens: new ApiTokenStore(db),
    endUserSessions: new EndUserSessionStore(db),
    audit: new AuditStore(db),
    scim: new ScimStore(db),
    scimActivity: new ScimActivityStore(db),
  };
}

export type Stores = ReturnType<typeof createStores>;
