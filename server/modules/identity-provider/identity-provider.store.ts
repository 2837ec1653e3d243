import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { identityProviders } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import type { IdentityProviderRow } from './identity-provider.types.js';

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
}
