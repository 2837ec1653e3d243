import { expect } from 'vitest';
import type { TestServer } from './harness.js';
import { api } from './directory-api.js';

/** Provisioning helpers over the GraphQL API. */
export function papi(ts: TestServer, token: string) {
  const a = api(ts, token);
  const ok = <T extends { errors: { code: string }[] }>(r: T): T => {
    expect(r.errors, JSON.stringify(r.errors)).toEqual([]);
    return r;
  };
  const runFields = `id status phase trigger planned plannedRemovals created updated removed claimed skipped failed devicesRemoved percent errors { code username }`;
  return {
    ...a,
    runFields,
    async create(name = 'MFA sync') {
      const d = await a.call<any>(`mutation($i: CreateProvisioningInput!) { createProvisioning(input: $i) { provisioning { id } errors { code message } } }`, {
        i: { kind: 'EAA', name },
      });
      return d.createProvisioning as { provisioning: { id: string } | null; errors: { code: string }[] };
    },
    async configure(id: string, directoryId: string, groupIds: string[], settings: Record<string, unknown> = {}) {
      ok((await a.call<any>(`mutation($i: SetProvisioningDirectoriesInput!) { setProvisioningDirectories(input: $i) { errors { code } } }`, { i: { id, directoryIds: [directoryId] } })).setProvisioningDirectories);
      ok((await a.call<any>(`mutation($i: SetProvisioningGroupsInput!) { setProvisioningGroups(input: $i) { errors { code } } }`, { i: { id, directoryId, groupIds } })).setProvisioningGroups);
      if (Object.keys(settings).length) {
        ok((await a.call<any>(`mutation($i: UpdateProvisioningInput!) { updateProvisioning(input: $i) { errors { code } } }`, { i: { id, ...settings } })).updateProvisioning);
      }
    },
    async deploy(id: string) {
      return ok((await a.call<any>(`mutation($i: ProvisioningIdInput!) { deployProvisioning(input: $i) { provisioning { deployedVersion nextSyncAt hasUndeployedChanges } errors { code } } }`, { i: { id } })).deployProvisioning);
    },
    async sync(id: string) {
      const d = await a.call<any>(`mutation($i: ProvisioningIdInput!) { syncProvisioning(input: $i) { syncRun { ${runFields} } errors { code message } } }`, { i: { id } });
      return d.syncProvisioning as { syncRun: any; errors: { code: string }[] };
    },
    async run(id: string) {
      return (await a.call<any>(`query($id: ID!) { syncRun(id: $id) { ${runFields} } }`, { id })).syncRun;
    },
    async waitRun(id: string, statuses = ['COMPLETED', 'FAILED', 'CANCELLED', 'AWAITING_APPROVAL'], ms = 30_000) {
      const end = Date.now() + ms;
      for (;;) {
        const r = await this.run(id);
        if (statuses.includes(r.status)) return r;
        if (Date.now() > end) throw new Error(`run ${id} still ${r.status}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async syncAndWait(id: string) {
      const s = await this.sync(id);
      ok(s);
      return this.waitRun(s.syncRun.id);
    },
    async mfaUsers(filter: Record<string, unknown> = {}) {
      const d = await a.call<any>(`query($f: MfaUserFilterInput) { mfaUsers(first: 100, filter: $f) { totalCount nodes { id username email firstName status source groups devices { name } } } }`, { f: filter });
      return d.mfaUsers as { totalCount: number; nodes: any[] };
    },
    async preview(id: string) {
      return (await a.call<any>(`query($id: ID!) { previewSync(id: $id) { createCount updateCount claimCount skipCount removeCount devicesRemovedCount requiresApproval toRemove { username enrolledDevices } toCreate { username } } }`, { id })).previewSync;
    },
    async cloudDirectoryId() {
      return (await a.call<any>(`{ directories { nodes { id kind } } }`)).directories.nodes.find((d: any) => d.kind === 'CLOUD').id as string;
    },
    async addUsers(groupId: string, prefix: string, n: number, extra: Record<string, unknown> = {}) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await a.createUser({ email: `${prefix}${i}@x.test`, firstName: `${prefix}${i}`, lastName: 'User', groupIds: [groupId], ...extra });
        expect(r.errors).toEqual([]);
        ids.push(r.user.id);
      }
      return ids;
    },
  };
}
