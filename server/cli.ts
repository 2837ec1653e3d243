import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ConfigError, parseEnv } from './env.js';
import { openDatabase } from './shared/db.js';
import { DomainError } from './shared/errors.js';
import { TenantService } from './modules/tenant/tenant.service.js';
import { TenantStore } from './modules/tenant/tenant.store.js';
import { ProvisioningService } from './modules/provisioning/provisioning.service.js';
import { AuditService } from './modules/audit/audit.service.js';
import { ScimService } from './modules/scim/scim.service.js';
import { SignInLimitService } from './modules/sign-in-limit/sign-in-limit.service.js';
import { createStores } from './stores.js';

const USAGE = `Roster operator command line

Usage:
  npm run roster -- tenant create --slug SLUG --name NAME --admin-email EMAIL
                     [--entitlements EAA,MFA] [--features IDP_SELECTION_FOR_INVITES]
                     [--admin-password-stdin] [--json]

  --admin-password-stdin  read the first admin's password from standard input (checked
                          against the password policy); otherwise a one-time password is
                          generated and printed once.
  --json                  print the result as JSON.

  npm run roster -- provisioning create-scim --tenant SLUG --name NAME [--json]

  Creates a SCIM provisioning (for Okta, Entra ID, any SCIM 2.0 client) and prints its base
  URL and bearer token; the token is shown only this once (docs/scim.md).

Uses DATABASE_URL when set, else the embedded database under DATA_DIR (default ./.data).
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // Only the line break a shell or `echo` adds is dropped: other whitespace is part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function tenantCreate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      slug: { type: 'string' },
      name: { type: 'string' },
      entitlements: { type: 'string', default: '' },
      features: { type: 'string', default: '' },
      'admin-email': { type: 'string' },
      'admin-first-name': { type: 'string' },
      'admin-last-name': { type: 'string' },
      'admin-password-stdin': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.slug || !values.name || !values['admin-email']) {
    process.stderr.write(`Missing --slug, --name or --admin-email.\n\n${USAGE}`);
    return 2;
  }
  const adminPassword = values['admin-password-stdin'] ? await readStdin() : undefined;
  const env = parseEnv();
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR, maxConnections: 2 });
  try {
    const service = new TenantService(new TenantStore(database.db));
    const r = await service.createTenant({
      slug: values.slug,
      name: values.name,
      entitlements: values.entitlements.split(','),
      features: values.features.split(','),
      adminEmail: values['admin-email'],
      adminPassword,
      adminFirstName: values['admin-first-name'],
      adminLastName: values['admin-last-name'],
    });
    const out = {
      tenant: {
        id: r.tenant.id,
        slug: r.tenant.slug,
        name: r.tenant.name,
        entitlements: r.tenant.entitlements,
        features: r.tenant.features,
      },
      admin: { id: r.adminUserId, email: r.adminEmail, ...(r.generatedPassword ? { oneTimePassword: r.generatedPassword } : {}) },
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      process.stdout.write(
        `Created tenant "${r.tenant.name}" (${r.tenant.slug}) with admin ${r.adminEmail}.\n` +
          (r.generatedPassword ? `One-time admin password (shown only now): ${r.generatedPassword}\n` : ''),
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof DomainError) {
      if (values.json) process.stdout.write(`${JSON.stringify({ errors: err.errors }, null, 2)}\n`);
      else for (const e of err.errors) process.stderr.write(`error ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await database.close();
  }
}

async function provisioningCreateScim(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { tenant: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.tenant || !values.name) {
    process.stderr.write(`Missing --tenant or --name.\n\n${USAGE}`);
    return 2;
  }
  const env = parseEnv();
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR, maxConnections: 2 });
  try {
    const stores = createStores(database.db);
    const tenant = await stores.tenants.bySlug(values.tenant);
    if (!tenant) {
      process.stderr.write(`No tenant "${values.tenant}".\n`);
      return 1;
    }
    const policy = { delayAfter: 0, maxFailures: 1, lockSeconds: 1 };
    // Recorded with the SYSTEM actor: an operator at the console has no session.
    const audit = new AuditService(stores.audit, { retentionDays: env.AUDIT_RETENTION_DAYS, enabled: env.AUDIT_ENABLED === 'true' });
    const scim = new ScimService({
      db: database.db,
      store: stores.scim,
      activity: stores.scimActivity,
      provisionings: stores.provisionings,
      limits: new SignInLimitService(stores.signInLimits, { account: policy, address: policy, factor: policy }),
      publicOrigin: () => env.publicOrigin ?? `http://localhost:${env.PORT}`,
      ratePerMinute: env.SCIM_RATE_LIMIT_PER_MINUTE,
      audit,
    });
    const service = new ProvisioningService(
      database.db,
      stores.provisionings,
      stores.tenants,
      stores.directories,
      stores.groups,
      stores.syncRuns,
      scim,
      audit,
    );
    // The operator acts for the tenant; no admin session is involved.
    const r = await service.create({ tenantId: tenant.id, userId: '', sessionId: '' }, { kind: 'SCIM', name: values.name });
    const out = { id: r.provisioning.id, name: r.provisioning.name, scimBaseUrl: scim.baseUrl(r.provisioning.id), scimToken: r.scimToken };
    if (values.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else
      process.stdout.write(
        `Created SCIM provisioning "${out.name}" in ${tenant.slug}.\n  SCIM base URL: ${out.scimBaseUrl}\n  Bearer token (shown only now): ${out.scimToken}\n`,
      );
    return 0;
  } catch (err) {
    if (err instanceof DomainError) {
      for (const e of err.errors) process.stderr.write(`error ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await database.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group === 'tenant' && command === 'create') return tenantCreate(rest);
  if (group === 'provisioning' && command === 'create-scim') return provisioningCreateScim(rest);
  process.stderr.write(USAGE);
  return group === undefined || group === '--help' || group === 'help' ? 0 : 2;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
