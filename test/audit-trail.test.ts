import { describe, expect } from 'vitest';
import { sql } from 'drizzle-orm';
import { RosterGraphQLError, type ApiScope, type RosterClient } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { gql, seedTenant } from './support/harness.js';
import { ok } from './support/directory-api.js';
import { bulkApi } from './support/bulk-api.js';

/**
 * The audit trail: each change writes an event in its own transaction, with the actor (admin
 * session or API token), the target, before/after values (secrets redacted), request id and
 * client address; sign-ins and failed sign-ins too. Read through `auditEvents`,
 * `User.auditEvents` and `node(id)`.
 */
const test = rosterTest();

async function token(admin: RosterClient, scopes: ApiScope[], name = 'hr-sync') {
  const r = ok((await admin.createApiToken({ input: { name, scopes } })).createApiToken);
  return { id: r.apiToken!.id, secret: r.secret! };
}

describe('audit trail', () => {
  test("a token's changes show with the token as actor, before/after values, request id and address", async ({
    admin,
    tenant,
    clientFor,
    server,
  }) => {
    const t = await token(admin, ['DIRECTORY_READ', 'DIRECTORY_WRITE']);
    const service = clientFor(t.secret);
    const email = `eve@${tenant.slug}.test`;
    const created = ok(
      (await service.createUser({ input: { email, firstName: 'Eve', lastName: 'Early', password: 'Ev3!secret-pw' } })).createUser,
    );
    ok((await service.updateUser({ input: { id: created.user!.id, lastName: 'Later', disabled: true } })).updateUser);

    const { auditEvents } = await admin.auditEvents({ filter: { actor: t.id } });
    expect(auditEvents.nodes.map((e) => e.action)).toEqual(['user.update', 'user.create']);
    const [update, create] = auditEvents.nodes;
    expect(update!.actor).toEqual({ kind: 'API_TOKEN', id: t.id, name: 'hr-sync' });
    expect(update!.target).toEqual({ type: 'User', id: created.user!.id, name: email });
    expect(Object.fromEntries(update!.changes.map((c) => [c.field, [c.before, c.after]]))).toEqual({
      lastName: ['"Early"', '"Later"'],
      status: ['"ACTIVE"', '"DISABLED"'],
    });
    expect(update!.requestId).toBeTruthy();
    expect(update!.clientAddress).toBeTruthy();
    // The password shows as set, never its value.
    const password = create!.changes.find((c) => c.field === 'password');
    expect(password).toEqual({ field: 'password', before: null, after: '"[redacted]"' });
    expect(JSON.stringify(create)).not.toContain('Ev3!secret-pw');

    // node(id) reads one event; filters by action and target.
    expect((await admin.node({ id: update!.id })).node).toMatchObject({ id: update!.id });
    // Events are keyed by their sequence number; ids that are not one read as absent, not as an error.
    for (const raw of ['AuditEvent:0', 'AuditEvent:abc', 'AuditEvent:99999999999999999999', 'AuditEvent:1e3']) {
      expect((await admin.node({ id: Buffer.from(raw).toString('base64url') })).node).toBeNull();
    }
    // Sequence numbers are guessable, so the tenant check is what guards them: another tenant's admin gets null.
    const other = clientFor((await seedTenant(server)).token);
    expect((await other.node({ id: update!.id })).node).toBeNull();
    const byTarget = await admin.auditEvents({ filter: { target: created.user!.id, action: 'user.' } });
    expect(byTarget.auditEvents.nodes).toHaveLength(2);
  });

  test('who made Eve an admin: User.auditEvents shows the membership change and the admin who made it', async ({ admin, tenant }) => {
    const eve = ok(
      (await admin.createUser({ input: { email: `eve@${tenant.slug}.test`, firstName: 'Eve', lastName: 'E', password: 'Ev3!secret-pw' } }))
        .createUser,
    ).user!;
    ok((await admin.addGroupMembers({ input: { groupId: toId('Group', tenant.adminsGroupId), userIds: [eve.id] } })).addGroupMembers);
    const { user } = await admin.userAuditEvents({ id: eve.id });
    const added = user!.auditEvents.nodes[0]!;
    expect(added.action).toBe('group.add_member');
    expect(added.actor).toMatchObject({ kind: 'ADMIN', id: toId('User', tenant.adminUserId) });
    expect(added.changes).toEqual([{ field: 'group', before: null, after: '"Admins"' }]);
  });

  test('sign-ins and failed sign-ins are recorded, without the password', async ({ admin, server, tenant }) => {
    const login = 'mutation($input: LoginInput!) { login(input: $input) { token errors { code } } }';
    await gql(server.url, login, { input: { tenant: tenant.slug, email: tenant.adminEmail, password: 'Wrong!pass1' } });
    await gql(server.url, login, { input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword } });
    const { auditEvents } = await admin.auditEvents({ filter: { action: 'auth.' }, first: 10 });
    const actions = auditEvents.nodes.map((e) => e.action);
    expect(actions.slice(0, 2)).toEqual(['auth.sign_in', 'auth.sign_in_failed']);
    const failed = auditEvents.nodes[1]!;
    expect(failed.target).toMatchObject({ type: 'User', id: toId('User', tenant.adminUserId), name: tenant.adminEmail });
    expect(JSON.stringify(auditEvents)).not.toContain('Wrong!pass1');
  });

  test('token management is audited; reading the trail needs audit:read', async ({ admin, clientFor }) => {
    const t = await token(admin, ['DIRECTORY_READ'], 'reader');
    ok((await admin.rotateApiToken({ input: { id: t.id } })).rotateApiToken);
    const { auditEvents } = await admin.auditEvents({ filter: { target: t.id } });
    expect(auditEvents.nodes.map((e) => e.action)).toEqual(['api_token.rotate', 'api_token.create']);
    expect(JSON.stringify(auditEvents)).not.toMatch(/rst_at_/);

    const refused = await clientFor(t.secret)
      .auditEvents()
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RosterGraphQLError);
    expect((refused as RosterGraphQLError).message).toContain('audit:read');
    const auditor = await token(admin, ['AUDIT_READ'], 'siem');
    expect((await clientFor(auditor.secret).auditEvents({ first: 5 })).auditEvents.nodes.length).toBeGreaterThan(0);
  });

  test('each bulk item is audited with the operation as its source', async ({ admin, tenant }) => {
    const ids: string[] = [];
    for (const n of ['b1', 'b2'])
      ids.push(
        ok(
          (
            await admin.createUser({
              input: { email: `${n}@${tenant.slug}.test`, firstName: n, lastName: 'B', password: 'Bulk!pass-w0rd' },
            })
          ).createUser,
        ).user!.id,
      );
    const op = ok((await admin.bulkDeleteUsers({ input: { userIds: ids } })).bulkDeleteUsers).bulkOperation!;
    for await (const e of admin.bulkOperationProgress({ id: op.id })) if (e.bulkOperationProgress.status === 'COMPLETED') break;
    const { auditEvents } = await admin.auditEvents({ filter: { action: 'bulk.delete_users' } });
    expect(auditEvents.nodes.map((e) => e.target.name).sort()).toEqual([`b1@${tenant.slug}.test`, `b2@${tenant.slug}.test`]);
    expect(auditEvents.nodes[0]!.actor).toMatchObject({ kind: 'ADMIN', id: toId('User', tenant.adminUserId) });
  });

  test('an upload audits each row it wrote, with its outcome; a validateOnly upload and failed rows audit nothing', async ({
    admin,
    server,
    tenant,
  }) => {
    const b = bulkApi(server, tenant.token);
    const rows = `ua@${tenant.slug}.test,U,A,,\nnot-an-email,U,B,,\nub@${tenant.slug}.test,U,B,,`;
    expect(await b.uploadAndWait({ csv: `uc@${tenant.slug}.test,U,C,,`, validateOnly: true })).toMatchObject({ succeeded: 1 });
    expect(await b.uploadAndWait({ csv: rows })).toMatchObject({ succeeded: 2, failed: 1 });
    const { auditEvents } = await admin.auditEvents({ filter: { action: 'bulk.upload_users' } });
    expect(auditEvents.nodes.map((e) => [e.target.type, e.target.name, e.changes.map((c) => [c.field, c.before, c.after])]).sort()).toEqual(
      [
        ['User', `ua@${tenant.slug}.test`, [['outcome', null, '"Created."']]],
        ['User', `ub@${tenant.slug}.test`, [['outcome', null, '"Created."']]],
      ],
    );
    expect(auditEvents.nodes.every((e) => e.target.id && e.actor.kind === 'ADMIN' && e.actor.id === toId('User', tenant.adminUserId))).toBe(
      true,
    );
  });

  test('inverted, huge and out-of-range time ranges are INVALID_INPUT', async ({ server, tenant }) => {
    const q = 'query($f: AuditEventFilter) { auditEvents(filter: $f) { nodes { id } } }';
    for (const f of [
      { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' },
      { since: '2020-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' },
      { since: '1970-01-01T00:00:00Z' },
    ]) {
      const r = await gql(server.url, q, { f }, tenant.token);
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(f)).toBe('INVALID_INPUT');
    }
    const good = await gql(server.url, q, { f: { since: new Date(Date.now() - 3600_000).toISOString() } }, tenant.token);
    expect(good.errors).toBeUndefined();
  });
});

function toId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64url');
}

describe('audit retention', () => {
  test('housekeeping deletes events older than AUDIT_RETENTION_DAYS in batches, and nothing newer', async ({ admin, tenant, server }) => {
    for (const n of ['old1', 'old2', 'new1']) {
      ok((await admin.createUser({ input: { email: `${n}@${tenant.slug}.test`, firstName: n, lastName: 'R' } })).createUser);
    }
    const before = (await admin.auditEvents({ filter: { action: 'user.create' } })).auditEvents.nodes;
    expect(before.map((e) => e.target.name)).toEqual([`new1@${tenant.slug}.test`, `old2@${tenant.slug}.test`, `old1@${tenant.slug}.test`]);
    // Two of them 400 days old (the default retention is 365 days).
    await server.database.db.execute(
      sql`update audit_events set at = now() - interval '400 days'
          where tenant_id = ${tenant.tenantId}::uuid and action = 'user.create' and target_name like 'old%'`,
    );
    // The hourly housekeeping, run now in batches of one.
    expect(await server.server.services.audit.purgeExpired(1)).toBe(2);
    const after = (await admin.auditEvents({ filter: { action: 'user.create' } })).auditEvents.nodes;
    expect(after.map((e) => e.target.name)).toEqual([`new1@${tenant.slug}.test`]);
  });
});
