import { describe, expect, it } from 'vitest';
import { gql } from './support/harness.js';
import { spawnNode } from './support/process.js';
import { freshStorage, startServerProcess } from './support/storage.js';

describe('operator CLI', () => {
  it('creates a tenant whose admin can sign in; --json; weak passwords are refused rule by rule', async () => {
    const s = await freshStorage();
    try {
      const created = spawnNode(
        'dist/server/cli.js',
        [
          'tenant',
          'create',
          '--slug',
          'acme',
          '--name',
          'Acme',
          '--entitlements',
          'EAA,MFA',
          '--admin-email',
          'Admin@Acme.test',
          '--admin-password-stdin',
          '--json',
        ],
        s.env,
        'Str0ng!pass\n',
      );
      expect(await created.exited).toBe(0);
      const out = JSON.parse(created.stdout()) as {
        tenant: { slug: string; entitlements: string[] };
        admin: { email: string; oneTimePassword?: string };
      };
      expect(out.tenant).toMatchObject({ slug: 'acme', entitlements: ['EAA', 'MFA'] });
      expect(out.admin.email).toBe('admin@acme.test');
      expect(out.admin.oneTimePassword).toBeUndefined();

      const weak = spawnNode(
        'dist/server/cli.js',
        ['tenant', 'create', '--slug', 'weak', '--name', 'Weak', '--admin-email', 'a@weak.test', '--admin-password-stdin', '--json'],
        s.env,
        'short\n',
      );
      expect(await weak.exited).toBe(1);
      const codes = (JSON.parse(weak.stdout()) as { errors: { code: string }[] }).errors.map((e) => e.code).sort();
      expect(codes).toEqual([
        'PASSWORD_MISSING_DIGIT',
        'PASSWORD_MISSING_SPECIAL',
        'PASSWORD_MISSING_UPPERCASE',
        'PASSWORD_TOO_COMMON',
        'PASSWORD_TOO_SHORT',
      ]);

      const dup = spawnNode(
        'dist/server/cli.js',
        ['tenant', 'create', '--slug', 'acme', '--name', 'Again', '--admin-email', 'b@acme.test'],
        s.env,
      );
      expect(await dup.exited).toBe(1);
      expect(dup.stderr()).toContain('SLUG_TAKEN');

      const generated = spawnNode(
        'dist/server/cli.js',
        ['tenant', 'create', '--slug', 'gen', '--name', 'Gen', '--admin-email', 'a@gen.test'],
        s.env,
      );
      expect(await generated.exited).toBe(0);
      const oneTime = /One-time admin password \(shown only now\): (\S+)/.exec(generated.stdout())?.[1];
      expect(oneTime).toBeTruthy();

      const { p, url } = await startServerProcess({ ...s.env, SEED_DEMO: 'false' });
      try {
        const login = (tenant: string, email: string, password: string) =>
          gql<any>(url, `mutation($i: LoginInput!) { login(input: $i) { token errors { code } } }`, { i: { tenant, email, password } });
        expect((await login('acme', 'admin@acme.test', 'Str0ng!pass')).data.login.token).toMatch(/^rst_/);
        expect((await login('gen', 'a@gen.test', oneTime!)).data.login.token).toMatch(/^rst_/);
      } finally {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    } finally {
      await s.cleanup();
    }
  });
});

describe('server process', () => {
  it('seeds a demo tenant once, serves health checks, and drains in-flight requests on SIGTERM', async () => {
    const s = await freshStorage();
    try {
      const { p, url } = await startServerProcess(s.env);
      const password = /password: (\S+)/.exec(p.stdout())?.[1];
      expect(password).toBeTruthy();
      const base = url.replace(/\/graphql$/, '');
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(((await (await fetch(`${base}/readyz`)).json()) as { status: string }).status).toBe('ready');

      const login = await gql<any>(url, `mutation($i: LoginInput!) { login(input: $i) { token } }`, {
        i: { tenant: 'demo', email: 'admin@demo.test', password },
      });
      const token = login.data.login.token as string;
      expect(token).toMatch(/^rst_/);
      // A request in flight when SIGTERM arrives still completes.
      const inFlight = gql<any>(url, `mutation($i: LoginInput!) { login(input: $i) { token } }`, {
        i: { tenant: 'demo', email: 'admin@demo.test', password },
      });
      await new Promise((r) => setTimeout(r, 20));
      p.child.kill('SIGTERM');
      const res = await inFlight;
      expect(res.data.login.token).toMatch(/^rst_/);
      expect(await p.exited).toBe(0);

      // Restarted on the same storage: no second demo tenant, the old admin still signs in.
      const again = await startServerProcess(s.env);
      try {
        expect(again.p.stdout()).not.toContain('Demo tenant created');
        const relog = await gql<any>(again.url, `mutation($i: LoginInput!) { login(input: $i) { token } }`, {
          i: { tenant: 'demo', email: 'admin@demo.test', password },
        });
        expect(relog.data.login.token).toMatch(/^rst_/);
      } finally {
        again.p.child.kill('SIGINT');
        expect(await again.p.exited).toBe(0);
      }
    } finally {
      await s.cleanup();
    }
  });

  it('refuses bad configuration with one clear message and exit code 2', async () => {
    const p = spawnNode('dist/server/main.js', [], { PORT: 'abc', DATABASE_URL: 'mysql://x' });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain('Invalid configuration');
    expect(p.stderr()).toContain('PORT');
    expect(p.stderr()).toContain('DATABASE_URL');
    expect(p.stderr()).not.toMatch(/\n\s+at /);
  });
});
