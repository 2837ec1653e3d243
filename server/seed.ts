import type { Database } from './shared/db.js';
import { DomainError } from './shared/errors.js';
import type { Logger } from './shared/logger.js';
import { TenantService } from './modules/tenant/tenant.service.js';
import { TenantStore } from './modules/tenant/tenant.store.js';

/**
 * On an empty database, create a `demo` tenant so a newcomer can sign in at once. Its
 * one-time password goes to stdout exactly once (never to the structured log, never stored).
 */
export async function seedDemoTenant(database: Database, log: Logger): Promise<void> {
  const service = new TenantService(new TenantStore(database.db));
  if ((await service.count()) > 0) return;
  try {
    const r = await service.createTenant({
      slug: 'demo',
      name: 'Demo',
      entitlements: ['EAA', 'MFA'],
      features: ['IDP_SELECTION_FOR_INVITES'],
      adminEmail: 'admin@demo.test',
    });
    log.info({ tenantId: r.tenant.id }, 'created demo tenant');
    process.stdout.write(
      [
        '',
        '  Demo tenant created. Sign in with (shown only this once):',
        `    tenant:   demo`,
        `    email:    ${r.adminEmail}`,
        `    password: ${r.generatedPassword}`,
        `  mutation { login(input: {tenant: "demo", email: "${r.adminEmail}", password: "…"}) { token } }`,
        '',
        '',
      ].join('\n'),
    );
  } catch (err) {
    // Another replica seeded first: fine.
    if (err instanceof DomainError) return;
    throw err;
  }
}
