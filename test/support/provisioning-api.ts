import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { CreateMfaUserInput, CreateUserInput, MfaUserFilterInput, UpdateProvisioningInput } from '../../client/src/index.js';
import { queryRows } from '../../server/shared/db.js';
import { fromGlobalId } from '../../server/shared/ids.js';
import { type TestServer } from './harness.js';
import { api, clientOf, ok } from './directory-api.js';
import { base32Decode, hotp, stepOf } from './mfa-api.js';

/** Draft settings of a provisioning (everything `updateProvisioning` takes but its id). */
export type ProvisioningSettings = Omit<UpdateProvisioningInput, 'id'>;

const FINAL_RUN_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'AWAITING_APPROVAL'];

/** Provisioning and MFA helpers over the typed client (documents of `client/src/operations`). */
export function papi(ts: Pick<TestServer, 'url'>, token: string) {
  const a = api(ts, token);
  const { client } = a;
  return {
    ...a,
    async create(name = 'MFA sync') {
      return (await client.createProvisioning({ input: { kind: 'EAA', name } })).createProvisioning;
    },
    async update(id: string, settings: ProvisioningSettings) {
      return (await client.updateProvisioning({ input: { id, ...settings } })).updateProvisioning;
    },
    async setDirectories(id: string, directoryIds: string[]) {
      return (await client.setProvisioningDirectories({ input: { id, directoryIds } })).setProvisioningDirectories;
    },
    async setGroups(id: string, directoryId: string, groupIds: string[]) {
      return (await client.setProvisioningGroups({ input: { id, directoryId, groupIds } })).setProvisioningGroups;
    },
    async configure(id: string, directoryId: string, groupIds: string[], settings: ProvisioningSettings = {}) {
      ok(await this.setDirectories(id, [directoryId]));
      ok(await this.setGroups(id, directoryId, groupIds));
      if (Object.keys(settings).length) ok(await this.update(id, settings));
    },
    /** Save & Deploy; expects no errors, so `provisioning` is set. */
    async deploy(id: string) {
      const r = ok((await client.deployProvisioning({ input: { id } })).deployProvisioning);
      return { ...r, provisioning: r.provisioning! };
    },
    async provisioning(id: string) {
      return (await client.provisioning({ id })).provisioning;
    },
    async sync(id: string) {
      return (await client.syncProvisioning({ input: { id } })).syncProvisioning;
    },
    /** A run's state, counts and errors (without its plan: cheap to poll). */
    async run(id: string) {
      return (await client.syncRunStatus({ id })).syncRun;
    },
    async runPlan(id: string) {
      return (await client.syncRun({ id })).syncRun!.plan;
    },
    async runs(provisioningId: string) {
      return (await client.syncRuns({ provisioningId, first: 100 })).syncRuns;
    },
    async waitRun(id: string, statuses = FINAL_RUN_STATUSES, ms = 30_000) {
      const end = Date.now() + ms;
      for (;;) {
        const r = await this.run(id);
        if (!r) throw new Error(`run ${id} not found`);
        if (statuses.includes(r.status)) return r;
        if (Date.now() > end) throw new Error(`run ${id} still ${r.status}`);
        await new Promise((res) => setTimeout(res, 30));
      }
    },
    async syncAndWait(id: string) {
      const s = ok(await this.sync(id));
      return this.waitRun(s.syncRun!.id);
    },
    async approve(runId: string) {
      return (await client.approveSyncRun({ input: { runId } })).approveSyncRun;
    },
    async cancel(runId: string) {
      return (await client.cancelSyncRun({ input: { runId } })).cancelSyncRun;
    },
    async mfaUsers(filter: MfaUserFilterInput = {}, first = 100, after?: string) {
      return (await client.mfaUsers({ filter, first, after })).mfaUsers;
    },
    async createMfaUser(input: CreateMfaUserInput) {
      return (await client.createMfaUser({ input })).createMfaUser;
    },
    async sendEnrollment(mfaUserId: string) {
      return (await client.sendMfaEnrollment({ input: { mfaUserId } })).sendMfaEnrollment;
    },
    async preview(id: string, args: { draft?: boolean; limit?: number } = {}) {
      return (await client.previewSync({ id, ...args })).previewSync;
    },
    async cloudDirectoryId() {
      return (await client.directories()).directories.nodes.find((d) => d.kind === 'CLOUD')!.id;
    },
    async addUsers(groupId: string, prefix: string, n: number, extra: Partial<CreateUserInput> = {}) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await a.createUser({
          email: `${prefix}${i}@x.test`,
          firstName: `${prefix}${i}`,
          lastName: 'User',
          groupIds: [groupId],
          ...extra,
        });
        expect(r.errors).toEqual([]);
        ids.push(r.user!.id);
      }
      return ids;
    },
  };
}

/**
 * Public enrolment with the token of an enrolment link, as an authenticator app does it: begin
 * (a secret), then confirm with the current code computed from that secret (RFC 6238, the
 * tests' own generator). Errors of either step come back as the step's `errors`.
 */
export async function enroll(ts: Pick<TestServer, 'url'>, token: string, deviceName: string) {
  const anon = clientOf(ts);
  const begun = (await anon.beginTotpEnrollment({ input: { token, deviceName } })).beginTotpEnrollment;
  if (begun.errors.length) return { success: false, username: null, mfaUserId: null, errors: begun.errors };
  const code = hotp(base32Decode(begun.secret!), stepOf());
  const done = (await anon.confirmTotpEnrollment({ input: { token, code } })).confirmTotpEnrollment;
  return { success: done.success, username: begun.username ?? null, mfaUserId: done.mfaUserId ?? null, errors: done.errors };
}

/**
 * Many directory users in one group, inserted set-based (for sizes the one-by-one API would
 * make slow). Emails are `<prefix><i>@<domain>`; chunked so PGlite stays responsive.
 */
export async function seedGroupMembers(
  ts: TestServer,
  t: { tenantId: string; directoryId: string },
  groupGlobalId: string,
  n: number,
  prefix = 'b',
  domain = 'bench.test',
) {
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

/**
 * The benches' sync subject: in tenant `t`, `n` directory users (seeded set-based) in one group
 * `Everyone MFA`, and a provisioning of that group configured and deployed (no removal guard).
 * Global ids of the group and the provisioning.
 */
export async function seedDeployedProvisioning(
  ts: TestServer,
  t: { token: string; tenantId: string; directoryId: string },
  n: number,
  opts: { sendEnrollmentEmails?: boolean } = {},
): Promise<{ groupId: string; provisioningId: string }> {
  const p = papi(ts, t.token);
  const dir = await p.cloudDirectoryId();
  const groupId = (await p.createGroup('Everyone MFA')).group!.id;
  await seedGroupMembers(ts, t, groupId, n);
  const provisioningId = (await p.create()).provisioning!.id;
  await p.configure(provisioningId, dir, [groupId], {
    sendEnrollmentEmails: opts.sendEnrollmentEmails ?? false,
    removalGuardMaxPercent: 100,
  });
  await p.deploy(provisioningId);
  return { groupId, provisioningId };
}

export async function countRows(ts: TestServer, query: ReturnType<typeof sql>): Promise<number> {
  const [r] = await queryRows<{ n: number }>(ts.database.db, query);
  return Number(r?.n ?? 0);
}
