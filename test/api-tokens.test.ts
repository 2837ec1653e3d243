import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { HeartbeatDocument, type ApiScope, RosterGraphQLError, type RosterClient } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { gql, seedTenant } from './support/harness.js';
import { ok } from './support/directory-api.js';

/**
 * Scoped API tokens: a service holding only a token creates and lists users through the typed
 * client, is refused what its scopes do not cover (FORBIDDEN naming the scope), on HTTP,
 * websocket and the plain HTTP routes alike; only admin sessions manage tokens.
 */
const test = rosterTest();

async function createToken(admin: RosterClient, scopes: ApiScope[], extra: { name?: string; expiresAt?: Date } = {}) {
  const r = ok(
    (await admin.createApiToken({ input: { name: extra.name ?? 'service', scopes, expiresAt: extra.expiresAt?.toISOString() } }))
      .createApiToken,
  );
  return { id: r.apiToken!.id, secret: r.secret!, token: r.apiToken! };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RosterGraphQLError);
  const e = err as RosterGraphQLError;
  return { code: e.code, message: e.message };
}

describe('API tokens', () => {
  test('a directory:read + directory:write token creates and lists users, is refused a sync, and shows its use', async ({
    admin,
    tenant,
    clientFor,
  }) => {
    const { id, secret, token } = await createToken(admin, ['DIRECTORY_WRITE', 'DIRECTORY_READ', 'DIRECTORY_READ']);
    expect(secret).toMatch(/^rst_at_[A-Za-z0-9_-]{43}$/);
    expect(token.scopes).toEqual(['DIRECTORY_READ', 'DIRECTORY_WRITE']);
    expect(token.lastUsedAt).toBeNull();

    const service = clientFor(secret);
    const created = ok(
      (
        await service.createUser({
          input: { email: `svc@${tenant.slug}.test`, firstName: 'Svc', lastName: 'Made', password: 'Serv1ce!pass' },
        })
      ).createUser,
    );
    const listed = await service.users({ first: 10 });
    expect(listed.users.nodes.map((u) => u.email)).toContain(`svc@${tenant.slug}.test`);
    expect(created.user!.email).toBe(`svc@${tenant.slug}.test`);

    // A provisioning sync needs provisioning:write; the provisioning itself is the admin's.
    const prov = ok((await admin.createProvisioning({ input: { kind: 'EAA', name: 'MFA' } })).createProvisioning);
    const refused = await refusal(service.syncProvisioning({ input: { id: prov.provisioning!.id } }));
    expect(refused.code).toBe('FORBIDDEN');
    expect(refused.message).toContain('provisioning:write');
    const refusedRead = await refusal(service.provisionings());
    expect(refusedRead).toMatchObject({ code: 'FORBIDDEN' });
    expect(refusedRead.message).toContain('provisioning:read');

    // The token acts for no person; its last use is recorded (time and address).
    expect((await service.viewer()).viewer).toBeNull();
    const [listedToken] = (await admin.apiTokens()).apiTokens.nodes.filter((t) => t.id === id);
    expect(listedToken!.lastUsedAt).not.toBeNull();
    expect(listedToken!.lastUsedAddress).toBeTruthy();
    expect(listedToken!.createdById).toBeTruthy();
  });

  test('only admin sessions manage tokens; a token cannot create, list, rotate or revoke one, nor log out', async ({
    admin,
    clientFor,
  }) => {
    const all: ApiScope[] = [
      'DIRECTORY_READ',
      'DIRECTORY_WRITE',
      'BULK_WRITE',
      'PROVISIONING_READ',
      'PROVISIONING_WRITE',
      'MFA_VERIFY',
      'AUDIT_READ',
    ];
    const { id, secret } = await createToken(admin, all);
    const service = clientFor(secret);
    for (const attempt of [
      service.createApiToken({ input: { name: 'escalate', scopes: all } }),
      service.apiTokens(),
      service.rotateApiToken({ input: { id } }),
      service.revokeApiToken({ input: { id } }),
      service.logout(),
      // A SCIM provisioning's payload carries its new bearer token: a credential as well.
      service.createProvisioning({ input: { kind: 'SCIM', name: 'escalate' } }),
    ]) {
      const r = await refusal(attempt);
      expect(r.code).toBe('FORBIDDEN');
      expect(r.message).toMatch(/admin sessions only/);
    }
    // Nothing was created by the refused attempt; an EAA provisioning (no credential) is allowed.
    expect((await admin.provisionings()).provisionings.map((p) => p.name)).not.toContain('escalate');
    ok((await service.createProvisioning({ input: { kind: 'EAA', name: 'by token' } })).createProvisioning);
  });

  test('bad input: unknown scopes, no scope, a past expiry, an empty name', async ({ admin, server, tenant }) => {
    const unknownScope = await gql(
      server.url,
      'mutation { createApiToken(input: { name: "x", scopes: [DIRECTORY_READ, EVERYTHING] }) { secret errors { code } } }',
      {},
      tenant.token,
    );
    expect(unknownScope.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const none = (await admin.createApiToken({ input: { name: 'x', scopes: [] } })).createApiToken;
    expect(none.errors.map((e) => e.field?.join('.'))).toEqual(['input.scopes']);
    expect(none.secret).toBeNull();
    const past = (
      await admin.createApiToken({ input: { name: 'x', scopes: ['AUDIT_READ'], expiresAt: new Date(Date.now() - 1000).toISOString() } })
    ).createApiToken;
    expect(past.errors.map((e) => [e.code, e.field?.join('.')])).toEqual([['INVALID_INPUT', 'input.expiresAt']]);
    const noName = (await admin.createApiToken({ input: { name: '  ', scopes: ['AUDIT_READ'] } })).createApiToken;
    expect(noName.errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
  });

  test('unknown, revoked and expired tokens get one UNAUTHENTICATED message', async ({ admin, server, clientFor }) => {
    const revoked = await createToken(admin, ['DIRECTORY_READ']);
    ok((await admin.revokeApiToken({ input: { id: revoked.id } })).revokeApiToken);
    const again = (await admin.revokeApiToken({ input: { id: revoked.id } })).revokeApiToken;
    expect(again.errors.map((e) => e.code)).toEqual(['INVALID_STATE']);
    const expired = await createToken(admin, ['DIRECTORY_READ'], { expiresAt: new Date(Date.now() + 3600_000) });
    await server.database.db.execute(
      sql`update api_tokens set expires_at = now() - interval '1 second' where name = 'service' and id::text = ${
        Buffer.from(expired.id, 'base64url').toString('utf8').split(':')[1]
      }`,
    );
    const unknown = 'rst_at_' + 'A'.repeat(43);
    const messages = new Set<string>();
    for (const secret of [revoked.secret, expired.secret, unknown]) {
      const r = await refusal(clientFor(secret).users());
      expect(r.code).toBe('UNAUTHENTICATED');
      messages.add(r.message);
    }
    expect(messages.size).toBe(1);
    // The plain HTTP routes answer alike.
    const res = await fetch(server.url.replace('/graphql', '/uploads'), {
      method: 'POST',
      headers: { authorization: `Bearer ${unknown}` },
      body: 'a',
    });
    expect(res.status).toBe(401);
  });

  test('rotation: the previous secret works during the grace period only, a second rotation ends it', async ({
    admin,
    server,
    clientFor,
  }) => {
    const first = await createToken(admin, ['DIRECTORY_READ']);
    const rotated = ok((await admin.rotateApiToken({ input: { id: first.id } })).rotateApiToken);
    expect(rotated.secret).not.toBe(first.secret);
    expect(rotated.apiToken!.previousSecretExpiresAt).not.toBeNull();
    // Default grace: 24 hours.
    const graceMs = new Date(rotated.apiToken!.previousSecretExpiresAt!).getTime() - new Date(rotated.apiToken!.rotatedAt!).getTime();
    expect(Math.round(graceMs / 3600_000)).toBe(24);
    expect((await clientFor(first.secret).tenant()).tenant.slug).toBeTruthy();
    expect((await clientFor(rotated.secret!).tenant()).tenant.slug).toBeTruthy();

    // Past its grace the previous secret is refused; the current one keeps working.
    const uuid = Buffer.from(first.id, 'base64url').toString('utf8').split(':')[1]!;
    await server.database.db.execute(sql`update api_tokens set previous_expires_at = now() - interval '1 second' where id = ${uuid}::uuid`);
    expect((await refusal(clientFor(first.secret).tenant())).code).toBe('UNAUTHENTICATED');
    expect((await clientFor(rotated.secret!).tenant()).tenant.slug).toBeTruthy();

    // A second rotation: the first rotated secret becomes the previous one, the original is gone.
    const second = ok((await admin.rotateApiToken({ input: { id: first.id } })).rotateApiToken);
    expect((await clientFor(rotated.secret!).tenant()).tenant.slug).toBeTruthy();
    expect((await clientFor(second.secret!).tenant()).tenant.slug).toBeTruthy();
    expect((await refusal(clientFor(first.secret).tenant())).code).toBe('UNAUTHENTICATED');

    // Revoking ends every secret of it.
    ok((await admin.revokeApiToken({ input: { id: first.id } })).revokeApiToken);
    for (const s of [rotated.secret!, second.secret!]) expect((await refusal(clientFor(s).tenant())).code).toBe('UNAUTHENTICATED');
    const rotateRevoked = (await admin.rotateApiToken({ input: { id: first.id } })).rotateApiToken;
    expect(rotateRevoked.errors.map((e) => e.code)).toEqual(['INVALID_STATE']);
  });

  test("tenant A's token finds nothing of tenant B", async ({ admin, server, clientFor }) => {
    const other = await seedTenant(server);
    const { secret } = await createToken(admin, ['DIRECTORY_READ', 'DIRECTORY_WRITE']);
    const service = clientFor(secret);
    const otherAdminId = Buffer.from(`User:${other.adminUserId}`).toString('base64url');
    expect((await service.user({ id: otherAdminId })).user).toBeNull();
    const upd = (await service.updateUser({ input: { id: otherAdminId, firstName: 'Hacked' } })).updateUser;
    expect(upd.errors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    // Nor can B's admin see A's tokens, or revoke them.
    const b = clientFor(other.token);
    expect((await b.apiTokens()).apiTokens.totalCount).toBe(0);
  });

  test('node(id) needs the scope of the type behind the id', async ({ admin, tenant, clientFor }) => {
    const { id, secret } = await createToken(admin, ['PROVISIONING_READ']);
    const service = clientFor(secret);
    const userId = Buffer.from(`User:${tenant.adminUserId}`).toString('base64url');
    const r = await refusal(service.node({ id: userId }));
    expect(r.code).toBe('FORBIDDEN');
    expect(r.message).toContain('directory:read');
    expect((await refusal(service.node({ id }))).message).toMatch(/admin sessions only/);
    const reader = clientFor((await createToken(admin, ['DIRECTORY_READ'])).secret);
    expect((await reader.node({ id: userId })).node).toMatchObject({ id: userId });
    // An admin session reads a token through node(id).
    expect((await admin.node({ id })).node).toMatchObject({ id });
  });

  test('websocket: a token subscribes within its scopes, is refused others, and is closed when revoked', async ({ admin, clientFor }) => {
    const { id, secret } = await createToken(admin, ['DIRECTORY_READ']);
    const service = clientFor(secret);
    const ticks: number[] = [];
    for await (const ev of service.subscribe(HeartbeatDocument, { intervalMs: 100, count: 2 })) ticks.push(ev.heartbeat.seq);
    expect(ticks).toEqual([1, 2]);

    // Refused before anything runs: the run need not even exist.
    const runId = Buffer.from('SyncRun:00000000-0000-4000-8000-000000000000').toString('base64url');
    const refused = await (async () => {
      try {
        for await (const _ of service.syncRunProgress({ runId })) return null;
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(refused?.message).toContain('provisioning:read');

    // Revoking the token closes its open subscription.
    const stream = service.subscribe(HeartbeatDocument, { intervalMs: 100 });
    expect((await stream.next()).value.heartbeat.seq).toBe(1);
    ok((await admin.revokeApiToken({ input: { id } })).revokeApiToken);
    const ended = await (async () => {
      try {
        for (;;) if ((await stream.next()).done) return 'done';
      } catch (e) {
        return (e as { code?: string }).code;
      }
    })();
    expect(ended).toBe('UNAUTHENTICATED');
  });

  test('HTTP routes declare their scope: uploads and result downloads need bulk:write', async ({ admin, server }) => {
    const uploads = server.url.replace('/graphql', '/uploads');
    const csv = 'email,first_name,last_name,password,groups\nx@example.test,X,Y,Passw0rd!x,\n';
    const reader = await createToken(admin, ['DIRECTORY_READ']);
    const refused = await fetch(uploads, { method: 'POST', headers: { authorization: `Bearer ${reader.secret}` }, body: csv });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('FORBIDDEN');
    expect(body.errors[0]!.message).toContain('bulk:write');
    const writer = await createToken(admin, ['BULK_WRITE']);
    const accepted = await fetch(uploads, { method: 'POST', headers: { authorization: `Bearer ${writer.secret}` }, body: csv });
    expect(accepted.status).toBe(201);
  });
});
