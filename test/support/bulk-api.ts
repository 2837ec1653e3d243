import type { BulkUploadUsersInput } from '../../client/src/index.js';
import { gql, type TestServer } from './harness.js';
import { api, ok } from './directory-api.js';

const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** Bulk-operation helpers over the typed client (documents of `client/src/operations`). */
export function bulkApi(ts: Pick<TestServer, 'url'>, token: string) {
  const a = api(ts, token);
  const { client } = a;
  return {
    ...a,
    async upload(input: BulkUploadUsersInput) {
      return (await client.bulkUploadUsers({ input })).bulkUploadUsers;
    },
    async deleteUsers(userIds: string[]) {
      return (await client.bulkDeleteUsers({ input: { userIds } })).bulkDeleteUsers;
    },
    async reinviteUsers(userIds: string[]) {
      return (await client.bulkReinviteUsers({ input: { userIds } })).bulkReinviteUsers;
    },
    async addUsersToGroups(userIds: string[], groupIds: string[]) {
      return (await client.bulkAddUsersToGroups({ input: { userIds, groupIds } })).bulkAddUsersToGroups;
    },
    async cancel(id: string) {
      return (await client.cancelBulkOperation({ input: { id } })).cancelBulkOperation;
    },
    /** The operation with its first 100 results. */
    async op(id: string) {
      return (await client.bulkOperation({ id, first: 100 })).bulkOperation;
    },
    async wait(id: string, ms = 60_000) {
      const end = Date.now() + ms;
      for (;;) {
        const o = await this.op(id);
        if (!o) throw new Error(`operation ${id} not found`);
        if (ENDED.includes(o.status)) return o;
        if (Date.now() > end) throw new Error(`operation still ${o.status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /** Expects a started operation (no errors) and waits for its end. */
    async done(started: { bulkOperation: { id: string } | null; errors: { code: string }[] }) {
      return this.wait(ok(started).bulkOperation!.id);
    },
    async uploadAndWait(input: BulkUploadUsersInput) {
      return this.done(await this.upload(input));
    },
    /** Each user's email with its sorted group names. */
    async userGroups() {
      const { nodes } = await a.users();
      return Object.fromEntries(nodes.map((u) => [u.email, u.groups.map((g) => g.name).sort()]));
    },
  };
}

/** POST /uploads the CSV, then bulkUploadUsers on it: the operation's global id. */
export async function startCsvUpload(ts: Pick<TestServer, 'url'>, token: string, csv: string): Promise<string> {
  const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: csv,
  });
  const { uploadId } = (await res.json()) as { uploadId: string };
  const r = await gql<{ bulkUploadUsers: { bulkOperation: { id: string } | null } }>(
    ts.url,
    `mutation($i: BulkUploadUsersInput!) { bulkUploadUsers(input: $i) { bulkOperation { id } errors { message } } }`,
    { i: { uploadId } },
    token,
  );
  return r.data!.bulkUploadUsers.bulkOperation!.id;
}
