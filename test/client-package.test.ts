import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { RosterGraphQLError } from '../client/src/index.js';
import { ROOT, spawnNode } from './support/process.js';

const test = rosterTest({ JOB_POLL_MS: '50' });

describe('typed client methods', () => {
  test('has one method per operation, typed errors for a bad token and payload errors for a policy failure', async ({
    admin: client,
    clientFor,
  }) => {
    const { users } = await client.users({ first: 5 });
    expect(users.totalCount).toBe(1);
    const weak = await client.createUser({ input: { email: 'w@x.test', firstName: 'W', lastName: 'K', password: 'weak' } });
    expect(weak.createUser.errors.map((e) => e.code)).toContain('PASSWORD_TOO_SHORT');
    const bad = clientFor('rst_bad');
    const err = await bad.users({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RosterGraphQLError);
    expect((err as RosterGraphQLError).code).toBe('UNAUTHENTICATED');
    const uploadId = await client.uploadCsv('one@x.test,One,User,,\n');
    const op = await client.bulkUploadUsers({ input: { uploadId } });
    expect(op.bulkUploadUsers.errors).toEqual([]);
  });
});

describe('packed client', () => {
  test('installs from its tarball into a fresh project and works against the server', async ({ server: ts, tenant: t }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roster-consumer-'));
    execFileSync('npm', ['pack', '--workspace', 'client', '--pack-destination', dir, '--silent'], { cwd: ROOT, stdio: 'pipe' });
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', `./${tgz}`, '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: dir, stdio: 'pipe' });
    writeFileSync(
      path.join(dir, 'use.mjs'),
      `import { createRosterClient, UsersDocument, RosterGraphQLError } from '@roster/client';
       const client = createRosterClient({ url: process.env.URL, token: process.env.TOKEN });
       const { users } = await client.request(UsersDocument, { first: 5 });
       const viaMethod = await client.users({ first: 5 });
       let code = null;
       try { await createRosterClient({ url: process.env.URL, token: 'nope' }).tenant(); } catch (e) { code = e instanceof RosterGraphQLError ? e.code : 'other'; }
       console.log(JSON.stringify({ count: users.totalCount, same: viaMethod.users.totalCount === users.totalCount, code }));`,
    );
    // Asynchronously: the server under test runs in this process and must keep answering.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['use.mjs'], {
      cwd: dir,
      env: { ...process.env, URL: ts.url, TOKEN: t.token },
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ count: 1, same: true, code: 'UNAUTHENTICATED' });
    const bin = spawnNode(path.relative(ROOT, path.join(dir, 'node_modules/@roster/client/dist/cli.js')), ['--help'], {});
    expect(await bin.exited).toBe(0);
    expect(bin.stdout()).toContain('roster users import');
  }, 180_000);
});

describe('roster CLI', () => {
  test('signs in, imports a CSV with progress, reports failed rows, and syncs a provisioning with progress', async ({
    server: ts,
    tenant: t,
    admin: client,
  }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roster-cli-'));
    const env = { ROSTER_URL: ts.url, ROSTER_CONFIG: path.join(dir, 'config.json') };
    const cli = (args: string[], input?: string) => spawnNode('client/dist/cli.js', args, env, input);

    const login = cli(['login', '--tenant', t.slug, '--email', t.adminEmail], `${t.adminPassword}\n`);
    expect(await login.exited).toBe(0);
    const { statSync } = await import('node:fs');
    expect(statSync(env.ROSTER_CONFIG).mode & 0o777).toBe(0o600);

    expect(await cli(['groups', 'create', 'Engineering']).exited).toBe(0);
    const csv = path.join(dir, 'users.csv');
    writeFileSync(
      csv,
      'email,first_name,last_name,password,groups\nann@x.test,Ann,A,,engineering\nbad-email,B,B,,\nbob@x.test,Bob,B,,"Engineering, users"\n',
    );
    const imp = cli(['users', 'import', csv]);
    expect(await imp.exited).toBe(1);
    expect(imp.stderr()).toMatch(/import users\.csv \[[#.]+\]\s+\d+% \d+\/3/);
    expect(imp.stdout()).toContain('Failed rows:');
    expect(imp.stdout()).toMatch(/3\s+bad-email\s+INVALID_INPUT/);

    const list = cli(['users', 'list', '--json']);
    expect(await list.exited).toBe(0);
    expect(JSON.parse(list.stdout()).totalCount).toBe(3);

    const dirId = (await client.directories()).directories.nodes[0]!.id;
    const groupId = (await client.groups({ filter: { search: 'Engineering' } })).groups.nodes[0]!.id;
    const p = (await client.createProvisioning({ input: { kind: 'EAA', name: 'Corp' } })).createProvisioning.provisioning!.id;
    await client.setProvisioningDirectories({ input: { id: p, directoryIds: [dirId] } });
    await client.setProvisioningGroups({ input: { id: p, directoryId: dirId, groupIds: [groupId] } });
    await client.deployProvisioning({ input: { id: p } });
    const preview = cli(['provisioning', 'preview', 'Corp', '--json']);
    expect(await preview.exited).toBe(0);
    expect(JSON.parse(preview.stdout()).createCount).toBe(2);
    const sync = cli(['provisioning', 'sync', 'Corp']);
    expect(await sync.exited).toBe(0);
    expect(sync.stderr()).toContain('sync Corp [');
    expect(sync.stdout()).toMatch(/COMPLETED\s+2/);

    const bad = spawnNode('client/dist/cli.js', ['users', 'list'], {
      ROSTER_URL: ts.url,
      ROSTER_TOKEN: 'rst_nope',
      ROSTER_CONFIG: path.join(dir, 'none.json'),
    });
    expect(await bad.exited).toBe(3);
    expect(bad.stderr()).toContain('UNAUTHENTICATED');
  }, 120_000);
});
