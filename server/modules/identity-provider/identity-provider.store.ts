import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { identityProviders } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import type { IdentityProviderRow } from './identity-provider.types.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';

export class IdentityProviderStore {
  constructor(private readonly db: Db) {}

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<IdentityProviderRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(identityProviders)
      .where(and(eq(identityProviders.tenantId, tenantId), inArray(identityProviders.id, [...ids])));
  }

  /** Default first, then by name. A tenant has a handful, so no paging. */
  async list(tenantId: string, tx: Executor = this.db): Promise<IdentityProviderRow[]> {
    return tx
      .select()
      .from(identityProviders)
      .where(eq(identityProviders.tenantId, tenantId))
      .orderBy(desc(identityProviders.isDefault), asc(identityProviders.name));
  }

  async insert(row: { tenantId: string; directoryId: string; name: string; description: string | null }, tx: Executor = this.db) {
    try {
      const [idp] = await tx
        .insert(identityProviders)
        .values({ ...row, isDefault: false })
        .returning();
      return idp!;
    } catch (err) {
      if (pgErrorInfo(err).constraint === 'uniq_identity_providers_tenant_name') {
        throw DomainError.of(ErrorCode.NAME_TAKEN, 'An identity provider with this name already exists.', ['input', 'name']);
      }
      throw err;
    }
  }
}
