import { expect } from 'vitest';
import { gql, type TestServer } from './harness.js';

/** Small typed-ish helpers over the GraphQL API for directory tests. */
export function api(ts: TestServer, token: string) {
  const call = async <T = any>(query: string, variables: Record<string, unknown> = {}) => {
    const r = await gql<T>(ts.url, query, variables, token);
    if (r.errors) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
    return r.data as T;
  };
  return {
    call,
    async createUser(input: Record<string, unknown>) {
      const d = await call<any>(
        `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id email status username groups { name } } errors { code message field } } }`,
        { i: input },
      );
      return d.createUser as { user: any; errors: { code: string; message: string; field: string[] | null }[] };
    },
    async createGroup(name: string, directoryId?: string) {
      const d = await call<any>(`mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id name } errors { code } } }`, {
        i: { name, directoryId },
      });
      return d.createGroup as { group: { id: string; name: string } | null; errors: { code: string }[] };
    },
    async groups() {
      const d = await call<any>(`{ groups(first: 100) { nodes { id name builtIn memberCount } } }`);
      return d.groups.nodes as { id: string; name: string; builtIn: string | null; memberCount: number }[];
    },
    async groupId(name: string) {
      const g = (await this.groups()).find((x) => x.name === name);
      expect(g, `group ${name}`).toBeTruthy();
      return g!.id;
    },
    async invite(userId: string, identityProviderId?: string) {
      const d = await call<any>(
        `mutation($i: InviteUserInput!) { inviteUser(input: $i) { invitation { id status kind expiresAt } user { lastInvitedAt } errors { code message } } }`,
        { i: { userId, identityProviderId } },
      );
      return d.inviteUser;
    },
    async reinvite(userId: string) {
      const d = await call<any>(
        `mutation($i: InviteUserInput!) { reinviteUser(input: $i) { invitation { id status } errors { code message } } }`,
        { i: { userId } },
      );
      return d.reinviteUser;
    },
  };
}

export async function completeSetup(ts: TestServer, token: string, password: string) {
  const r = await gql<any>(
    ts.url,
    `mutation($i: CompleteAccountSetupInput!) { completeAccountSetup(input: $i) { success email portalUrl errors { code message } } }`,
    { i: { token, password } },
  );
  return r.data.completeAccountSetup as { success: boolean; email: string | null; portalUrl: string | null; errors: { code: string; message: string }[] };
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
