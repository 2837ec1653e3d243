import WebSocket from 'ws';
import { expect } from 'vitest';
import {
  createRosterClient,
  type CreateUserInput,
  type DirectoryKind,
  type RosterClient,
  type UpdateUserInput,
  type UserFilterInput,
} from '../../client/src/index.js';
import { gql, type TestServer } from './harness.js';

/** The typed client (`@roster/client`) for `token` on a test server, subscriptions included. */
export function clientOf(ts: Pick<TestServer, 'url'>, token?: string | null): RosterClient {
  return createRosterClient({ url: ts.url, token: token ?? null, webSocketImpl: WebSocket });
}

/** Expects a mutation payload without errors and returns it. */
export function ok<T extends { errors: { code: string }[] }>(r: T): T {
  expect(r.errors, JSON.stringify(r.errors)).toEqual([]);
  return r;
}

/**
 * Directory helpers over the typed client: each one calls an operation of
 * `client/src/operations` and returns its typed payload. `client` is the client itself; `call`
 * runs a raw query, for the tests that deliberately probe queries no client operation makes.
 */
export function api(ts: Pick<TestServer, 'url'>, token: string) {
  const client = clientOf(ts, token);
  const call = async <T = any>(query: string, variables: Record<string, unknown> = {}) => {
    const r = await gql<T>(ts.url, query, variables, token);
    if (r.errors) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
    return r.data as T;
  };
  return {
    client,
    call,
    async createUser(input: CreateUserInput) {
      return (await client.createUser({ input })).createUser;
    },
    async updateUser(input: UpdateUserInput) {
      return (await client.updateUser({ input })).updateUser;
    },
    async deleteUser(id: string) {
      return (await client.deleteUser({ input: { id } })).deleteUser;
    },
    async users(filter: UserFilterInput = {}, first = 100) {
      return (await client.users({ filter, first })).users;
    },
    async createDirectory(name: string, kind: DirectoryKind) {
      return (await client.createDirectory({ input: { name, kind } })).createDirectory;
    },
    async createGroup(name: string, directoryId?: string) {
      return (await client.createGroup({ input: { name, directoryId } })).createGroup;
    },
    async groups() {
      return (await client.groups({ first: 100 })).groups.nodes;
    },
    /** The groups of one directory (its built-in Users group first). */
    async directoryGroups(directoryId: string) {
      return (await client.groups({ first: 100, filter: { directoryId } })).groups.nodes;
    },
    async addMembers(groupId: string, userIds: string[]) {
      return (await client.addGroupMembers({ input: { groupId, userIds } })).addGroupMembers;
    },
    async removeMembers(groupId: string, userIds: string[]) {
      return (await client.removeGroupMembers({ input: { groupId, userIds } })).removeGroupMembers;
    },
    async groupId(name: string) {
      const g = (await this.groups()).find((x) => x.name === name);
      expect(g, `group ${name}`).toBeTruthy();
      return g!.id;
    },
    async invite(userId: string, identityProviderId?: string) {
      return (await client.inviteUser({ input: { userId, identityProviderId } })).inviteUser;
    },
    async reinvite(userId: string) {
      return (await client.reinviteUser({ input: { userId } })).reinviteUser;
    },
  };
}

/** Account setup with the token of an invitation link (public: no session). */
export async function completeSetup(ts: Pick<TestServer, 'url'>, token: string, password: string) {
  return (await clientOf(ts).completeAccountSetup({ input: { token, password } })).completeAccountSetup;
}

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

/** Decodes the quoted-printable soft breaks and escapes nodemailer uses in .eml bodies. */
export function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Waits for the n-th (1-based) message to `to` in the local mailbox and returns its first link. */
export async function waitForMailLink(ts: TestServer, to: string, nth = 1, timeoutMs = 20_000): Promise<string> {
  const dir = path.join(ts.server.env.DATA_DIR, 'mailbox');
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(dir)) {
      const mails = readdirSync(dir)
        .sort()
        .map((f) => decodeQuotedPrintable(readFileSync(path.join(dir, f), 'utf8')))
        .filter((m) => new RegExp(`^To: ${to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'mi').test(m));
      if (mails.length >= nth) {
        const link = /https?:\/\/[^\s"<]+token=[A-Za-z0-9_-]+/.exec(mails[nth - 1]!)?.[0];
        if (link) return link;
      }
    }
    if (Date.now() > end) throw new Error(`no mail #${nth} to ${to}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function tokenOf(link: string): string {
  return new URL(link).searchParams.get('token')!;
}
