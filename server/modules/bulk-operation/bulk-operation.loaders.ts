import DataLoader from 'dataloader';
import type { BulkOperationStore } from './bulk-operation.store.js';
import type { BulkOperationRow } from './bulk-operation.types.js';

export function createBulkOperationLoaders(store: BulkOperationStore, tenantId: string) {
  return {
    bulkOperationById: new DataLoader<string, BulkOperationRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      return ids.map((id) => rows.find((r) => r.id === id) ?? null);
    }),
  };
}
