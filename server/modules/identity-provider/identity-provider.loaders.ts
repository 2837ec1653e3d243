import DataLoader from 'dataloader';
import type { IdentityProviderStore } from './identity-provider.store.js';
import type { IdentityProviderRow } from './identity-provider.types.js';

export function createIdentityProviderLoaders(store: IdentityProviderStore, tenantId: string) {
  return {
    identityProviderById: new DataLoader<string, IdentityProviderRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
