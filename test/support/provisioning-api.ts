import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { queryRows } from '../../server/shared/db.js';
import { fromGlobalId } from '../../server/shared/ids.js';
import { gql, type TestServer } from './harness.js';
import { api } from './directory-api.js';

export const RUN_FIELDS = `id status phase trigger approved desiredUsers stagedUsers planned plannedCreates plannedUpdates plannedClaims
  plannedRemovals plannedDevicesRemoved created updated removed claimed skipped failed devicesRemoved percent error
  errors { code username } createdAt startedAt plannedAt finishedAt`;

export const PLAN_FIELDS = `basedOn desiredCount ownedUserCount createCount updateCount keepCount claimCount skipCount failCount removeCount
  devicesRemovedCount groupCreateCount groupClaimCount groupRenameCount groupRemoveCount groupSkipCount requiresApproval listLimit
  toCreate { username email directoryUserId mfaUserId } toUpdate { username } toClaim { username mfaUserId } toSkip { username }
  toFail { username } toRemove { username mfaUserId enrolledDevices }`;

/** Provisioning and MFA helpers over the GraphQL API. */
export function papi(ts: TestServer, token: string) {
  const a = api(ts, token);
  const ok = <T extends { errors: { code: string }[] }>(r: T): T => {
    expect(r.errors, JSON.stringify(r.errors)).toEqual([]);
    return r;
  };
  return {
    ...a,
    runFields: RUN_FIELDS,
    async create(name = 'MFA sync') {
      const d = await a.call<any>(`mutation($i: CreateProvisioningInput!) { createProvisioning(input: $i) { provisioning { id name kind } errors { code message field } } }`, {
        i: { kind: 'EAA', name },
      });
      return d.createProvisioning as { provisioning: { id: string; name: string } | null; errors: { code: string; field: string[] | null }[] };
    },
    async update(id: string, settings: Record<string, unknown>) {
      const d = await a.call<any>(
        `mutation($i: UpdateProvisioningInput!) { updateProvisioning(input: $i) { provisioning { name hasUndeployedChanges draft { syncIntervalMinutes sendEnrollmentEmails includeManuallyProvisionedUsers removalGuardMaxUsers removalGuardMaxPercent } } errors { code field } } }`,
        { i: { id, ...settings } },
      );
      return d.updateProvisioning as { provisioning: any; errors: { code: string; field: string[] | null }[] };
    },
    async setDirectories(id: string, directoryIds: string[]) {
      const d = await a.call<any>(`mutation($i: SetProvisioningDirectoriesInput!) { setProvisioningDirectories(input: $i) { provisioning { id } errors { code field } } }`, {
        i: { id, directoryIds },
      });
      return d.setProvisioningDirectories as { provisioning: any; errors: { code: string }[] };
    },
    async setGroups(id: string, directoryId: string, groupIds: string[]) {
      const d = await a.call<any>(`mutation($i: SetProvisioningGroupsInput!) { setProvisioningGroups(input: $i) { provisioning { id } errors { code field } } }`, {
        i: { id, directoryId, groupIds },
      });
      return d.setProvisioningGroups as { provisioning: any; errors: { code: string }[] };
    },
    async configure(id: string, directoryId: string, groupIds: string[], settings: Record<string, unknown> = {}) {
      ok(await this.setDirectories(id, [directoryId]));
      ok(await this.setGroups(id, directoryId, groupIds));
      if (Object.keys(settings).length) ok(await this.update(id, settings));
    },
    async deploy(id: string) {
      return ok(
        (await a.call<any>(`mutation($i: ProvisioningIdInput!) { deployProvisioning(input: $i) { provisioning { deployedVersion deployedAt nextSyncAt hasUndeployedChanges } errors { code } } }`, { i: { id } }))
          .deployProvisioning,
      );
    },
    async provisioning(id: string) {
      return (
        await a.call<any>(
          `query($id: ID!) { provisioning(id: $id) { id name deployedVersion deployedAt nextSyncAt hasUndeployedChanges ownedUserCount
             draft { sendEnrollmentEmails includeManuallyProvisionedUsers syncIntervalMinutes directories { directoryId groupIds groupNames } }
             deployed { sendEnrollmentEmails includeManuallyProvisionedUsers syncIntervalMinutes directories { directoryId groupIds groupNames } }
             lastRun { id status trigger } activeRun { id status } } }`,
          { id },
        )
      ).provisioning;
    },
    async sync(id: string) {
      const d = await a.call<any>(`mutation($i: ProvisioningIdInput!) { syncProvisioning(input: $i) { syncRun { ${RUN_FIELDS} } errors { code message } } }`, { i: { id } });
      return d.syncProvisioning as { syncRun: any; errors: { code: string }[] };
    },
    async run(id: string) {
      return (await a.call<any>(`query($id: ID!) { syncRun(id: $id) { ${RUN_FIELDS} } }`, { id })).syncRun;
    },
    async runPlan(id: string) {
      return (await a.call<any>(`query($id: ID!) { syncRun(id: $id) { plan { ${PLAN_FIELDS} } } }`, { id })).syncRun.plan;
    },
    async runs(provisioningId: string) {
      return (await a.call<any>(`query($id: ID!) { syncRuns(provisioningId: $id, first: 100) { totalCount nodes { id trigger status } } }`, { id: provisioningId })).syncRuns;
    },
    async waitRun(id: string, statuses = ['COMPLETED', 'FAILED', 'CANCELLED', 'AWAITING_APPROVAL'], ms = 30_000) {
      const end = Date.now() + ms;
      for (;;) {
        const r = await this.run(id);
        if (statuses.includes(r.status)) return r;
        if (Date.now() > end) throw new Error(`run ${id} still ${r.status}`);
        await new Promise((res) => setTimeout(res, 30));
      }
    },
    async syncAndWait(id: string) {
      const s = await this.sync(id);
      ok(s);
      return this.waitRun(s.syncRun.id);
    },
    async approve(runId: string) {
      return (await a.call<any>(`mutation($i: SyncRunIdInput!) { approveSyncRun(input: $i) { syncRun { id status } errors { code } } }`, { i: { runId } })).approveSyncRun;
    },
    async cancel(runId: string) {
      return (await a.call<any>(`mutation($i: SyncRunIdInput!) { cancelSyncRun(input: $i) { syncRun { id status } errors { code } } }`, { i: { runId } })).cancelSyncRun;
    },
    async mfaUsers(filter: Record<string, unknown> = {}, first = 100, after?: string) {
      const d = await a.call<any>(
        `query($f: MfaUserFilterInput, $first: Int, $after: String) { mfaUsers(first: $first, after: $after, filter: $f) {
           totalCount pageInfo { hasNextPage endCursor }
           nodes { id username email firstName lastName status source provisioningId directoryUserId groups devices { name kind } } } }`,
        { f: filter, first, after },
      );
      return d.mfaUsers as { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: any[] };
    },
    async createMfaUser(input: Record<string, unknown>) {
      const d = await a.call<any>(`mutation($i: CreateMfaUserInput!) { createMfaUser(input: $i) { mfaUser { id username source status } errors { code field } } }`, { i: input });
      return d.createMfaUser as { mfaUser: any; errors: { code: string; field: string[] | null }[] };
    },
    async sendEnrollment(mfaUserId: string) {
      const d = await a.call<any>(`mutation($i: SendMfaEnrollmentInput!) { sendMfaEnrollment(input: $i) { mfaUser { id } errors { code } } }`, { i: { mfaUserId } });
      return d.sendMfaEnrollment as { mfaUser: any; errors: { code: string }[] };
    },
    async preview(id: string, args: { draft?: boolean; limit?: number } = {}) {
      return (await a.call<any>(`query($id: ID!, $draft: Boolean, $limit: Int) { previewSync(id: $id, draft: $draft, limit: $limit) { ${PLAN_FIELDS} } }`, { id, ...args })).previewSync;
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

/** Public enrolment with the token of an enrolment link. */
export async function enroll(ts: TestServer, token: string, deviceName: string, kind?: string) {
  const r = await gql<any>(
    ts.url,
    `mutation($i: EnrollMfaDeviceInput!) { enrollMfaDevice(input: $i) { success username mfaUserId errors { code } } }`,
    { i: { token, deviceName, kind } },
  );
  return r.data.enrollMfaDevice as { success: boolean; username: string | null; mfaUserId: string | null; errors: { code: string }[] };
}

/**
 * Many directory users in one group, inserted set-based (for sizes the one-by-one API would
 * make slow). Emails are `<prefix><i>@<domain>`; chunked so PGlite stays responsive.
 */
export async function seedGroupMembers(ts: TestServer, t: { tenantId: string; directoryId: string }, groupGlobalId: string, n: number, prefix = 'b', domain = 'bench.test') {
  const groupId = fromGlobalId(groupGlobalId, 'Group')!;
  const db = ts.database.db;
  for (let from = 1; from <= n; from += 5000) {
    const to = Math.min(n, from + 4999);
    await db.execute(sql`
      with u as (
        insert into users (tenant_id, directory_id, email, first_name, last_name, status)
        select ${t.tenantId}::uuid, ${t.directoryId}::uuid, ${prefix} || i || ${'@' + domain}, 'First' || i, 'Last' || i, 'ACTIVE'
        from generate_series(${from}::int, ${to}::int) i
        returning id)
      insert into group_memberships (group_id, user_id, tenant_id) select ${groupId}::uuid, id, ${t.tenantId}::uuid from u`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export async function countRows(ts: TestServer, query: ReturnType<typeof sql>): Promise<number> {
  const [r] = await queryRows<{ n: number }>(ts.database.db, query);
  return Number(r?.n ?? 0);
}
