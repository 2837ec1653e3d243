import { DomainError, ErrorCode, userError, type UserError } from '../../shared/errors.js';
import { checkPasswordPolicy } from '../../shared/password-policy.js';
import { generatePassword, hashPassword } from '../../shared/passwords.js';
import { normalizeEmail, isValidEmail } from '../../shared/email.js';
import type { Viewer } from '../../shared/viewer.js';
import { Entitlement, FeatureFlag, type TenantRow } from './tenant.types.js';
import type { CreatedTenant, TenantStore } from './tenant.store.js';

export interface CreateTenantInput {
  slug: string;
  name: string;
  entitlements: string[];
  features?: string[];
  adminEmail: string;
  /** When absent a one-time password is generated and returned once. */
  adminPassword?: string;
  adminFirstName?: string;
  adminLastName?: string;
}

export interface CreateTenantResult extends CreatedTenant {
  adminEmail: string;
  /** Present only when it was generated; shown once, never stored in clear. */
  generatedPassword: string | null;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class TenantService {
  constructor(private readonly store: TenantStore) {}

  /** Operator-only (command line and first-start seed): never exposed through GraphQL. */
  async createTenant(input: CreateTenantInput): Promise<CreateTenantResult> {
    const errors: UserError[] = [];
    const slug = input.slug.trim();
    if (!SLUG.test(slug)) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'Slug: 1–63 lowercase letters, digits and inner hyphens.', ['slug']));
    }
    const name = input.name.trim();
    if (!name || name.length > 200) errors.push(userError(ErrorCode.INVALID_INPUT, 'Name: 1–200 characters.', ['name']));
    const entitlements = [...new Set(input.entitlements.map((e) => e.trim().toUpperCase()).filter(Boolean))];
    for (const e of entitlements) {
      if (!(e in Entitlement)) {
        errors.push(userError(ErrorCode.INVALID_INPUT, `Unknown entitlement "${e}" (use EAA, MFA).`, ['entitlements']));
      }
    }
    const features = [...new Set((input.features ?? []).map((e) => e.trim().toUpperCase()).filter(Boolean))];
    for (const f of features) {
      if (!(f in FeatureFlag)) errors.push(userError(ErrorCode.INVALID_INPUT, `Unknown feature flag "${f}".`, ['features']));
    }
    const adminEmail = normalizeEmail(input.adminEmail);
    if (!isValidEmail(adminEmail)) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'Admin email is not a valid address.', ['adminEmail']));
    }
    const generated = input.adminPassword === undefined ? generatePassword() : null;
    const password = input.adminPassword ?? generated!;
    errors.push(...checkPasswordPolicy(password, [adminEmail, slug], ['adminPassword']));
    if (errors.length) throw new DomainError(errors);

    const created = await this.store.create({
      slug,
      name,
      entitlements,
      features,
      adminEmail,
      adminPasswordHash: await hashPassword(password),
      adminFirstName: input.adminFirstName?.trim() ?? 'Admin',
      adminLastName: input.adminLastName?.trim() ?? '',
    });
    return { ...created, adminEmail, generatedPassword: generated };
  }

  async forViewer(viewer: Viewer): Promise<TenantRow> {
    const t = await this.store.byId(viewer.tenantId);
    if (!t) throw new Error('viewer tenant vanished');
    return t;
  }

  bySlug(slug: string): Promise<TenantRow | null> {
    return this.store.bySlug(slug);
  }

  count(): Promise<number> {
    return this.store.count();
  }
}
