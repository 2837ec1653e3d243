import DataLoader from 'dataloader';
import type { ProvisioningStore } from './provisioning.store.js';
import type { ProvisioningRow } from './provisioning.types.js';

export function createProvisioningLoaders(store: ProvisioningStore, tenantId: string) {
  return {
    provisioningById: new DataLoader<string, ProvisioningRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      return ids.map((id) => rows.find((r) => r.id === id) ?? null);
    }),
    provisioningOwnedCount: new DataLoader<string, number>(async (ids) => {
      const m = await store.ownedCounts(tenantId, ids);
      return ids.map((id) => m.get(id) ?? 0);
    }),
  };
}
