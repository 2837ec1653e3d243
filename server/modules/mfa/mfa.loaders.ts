import DataLoader from 'dataloader';
import type { MfaStore } from './mfa.store.js';
import type { MfaDeviceRow, MfaGroupRow, MfaUserRow } from './mfa.types.js';

export function createMfaLoaders(store: MfaStore, tenantId: string) {
  return {
    mfaUserById: new DataLoader<string, MfaUserRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    mfaDevicesByUser: new DataLoader<string, MfaDeviceRow[]>(async (ids) => {
      const rows = await store.devicesByUsers(tenantId, ids);
      return ids.map((id) => rows.filter((r) => r.mfaUserId === id));
    }),
    mfaGroupById: new DataLoader<string, MfaGroupRow | null>(async (ids) => {
      const rows = await store.groupsByIds(tenantId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    mfaGroupMemberCount: new DataLoader<string, number>(async (ids) => {
      const m = await store.memberCounts(tenantId, ids);
      return ids.map((id) => m.get(id) ?? 0);
    }),
    mfaGroupNamesByUser: new DataLoader<string, string[]>(async (ids) => {
      const rows = await store.groupNamesByUsers(tenantId, ids);
      return ids.map((id) => rows.filter((r) => r.userId === id).map((r) => r.name));
    }),
  };
}
