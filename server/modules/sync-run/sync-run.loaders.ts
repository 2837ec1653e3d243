import DataLoader from 'dataloader';
import type { SyncRunStore } from './sync-run.store.js';
import type { SyncRunRow } from './sync-run.types.js';

export function createSyncRunLoaders(store: SyncRunStore, tenantId: string) {
  return {
    syncRunById: new DataLoader<string, SyncRunRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      return ids.map((id) => rows.find((r) => r.id === id) ?? null);
    }),
    /** The newest run of each provisioning. */
    provisioningLastRun: new DataLoader<string, SyncRunRow | null>(async (ids) => {
      const rows = await store.lastOf(tenantId, ids);
      return ids.map((id) => rows.find((r) => r.provisioningId === id) ?? null);
    }),
  };
}
