import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DestinationStream } from 'pino';
import postgres from 'postgres';
import { startServer, type RunningServer } from '../../server/app.js';
import { parseEnv, type Env } from '../../server/env.js';
import { openDatabase, type Database } from '../../server/shared/db.js';
import { createLogger } from '../../server/shared/logger.js';
import { installProcessNet, type ProcessNet } from '../../server/shared/process-net.js';
import { createRosterClient } from '../../client/src/index.js';

/**
 * Each test file gets its own database: in-memory PGlite by default, or a fresh PostgreSQL
 * database (created here, dropped at the end) when TEST_DATABASE_URL is set.
 */
export async function createTestDatabase(): Promise<{ database: Database; drop(): Promise<void>; url?: string }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const database = await openDatabase({});
    return { database, drop: () => database.close() };
  }
  const name = `roster_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), maxConnections: 10 });
  return {
    database,
    url: url.toString(),
    async drop() {
      await database.close();
      const a = postgres(base, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/**
 * One server key for every server of a test process: replicas sharing a database must hold the
 * same key (each has its own DATA_DIR, where a key would otherwise be generated per server).
 */
const TEST_SECRET_KEY = randomBytes(32).toString('base64');

export function testEnv(overrides: Record<string, string> = {}): Env {
  return parseEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SEED_DEMO: 'false',
    GRAPHQL_INTROSPECTION: 'true',
    // Mailbox files and any other local state go to a throwaway folder per server.
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'roster-test-')),
    JOB_POLL_MS: '100',
    ROSTER_SECRET_KEY: TEST_SECRET_KEY,
    ...overrides,
  });
}

export interface TestServer {
  server: RunningServer;
  database: Database;
  /** The PostgreSQL database's URL (unset on PGlite). */
  databaseUrl?: string;
  url: string;
  wsUrl: string;
  /** The process-wide net for unhandled rejections and uncaught exceptions, as in main.ts: `caught` should stay 0. */
  processNet: ProcessNet;
  close(): Promise<void>;
}

/** The real server on a free port, with its own database. `logTo` receives its log lines (tests that read the log). */
export async function startTestServer(
  envOverrides: Record<string, string> = {},
  opts: { logTo?: DestinationStream } = {},
): Promise<TestServer> {
  const { database, drop, url } = await createTestDatabase();
  const env = testEnv(envOverrides);
  const log = createLogger(env.LOG_LEVEL, opts.logTo);
  const processNet = installProcessNet(log);
  const server = await startServer({ env, database, log });
  return {
    server,
    database,
    processNet,
    databaseUrl: url,
    url: server.url,
    wsUrl: server.wsUrl,
    async close() {
      await server.close();
      await drop();
    },
  };
}

/**
 * Another replica of `ts` on the same database: its own connection pool on PostgreSQL, the
 * same (single) instance on PGlite. Close it before `ts`.
 */
export async function startReplica(ts: TestServer, envOverrides: Record<string, string> = {}): Promise<TestServer> {
  const own = ts.databaseUrl ? await openDatabase({ url: ts.databaseUrl, maxConnections: 10 }) : null;
  const database = own ?? ts.database;
  const env = testEnv(envOverrides);
  const server = await startServer({ env, database, log: createLogger(env.LOG_LEVEL) });
  return {
    server,
    database,
    processNet: ts.processNet,
    databaseUrl: ts.databaseUrl,
    url: server.url,
    wsUrl: server.wsUrl,
    async close() {
      await server.close();
      await own?.close();
    },
  };
}

export const ADMIN_PASSWORD = 'Adm1n!pass-word';

export interface SeededTenant {
  tenantId: string;
  slug: string;
  adminEmail: string;
  adminPassword: string;
  adminUserId: string;
  directoryId: string;
  usersGroupId: string;
  adminsGroupId: string;
  identityProviderId: string;
  /** Session token of the first admin. */
  token: string;
}

/** A fresh tenant with a known admin, signed in through the API. */
export async function seedTenant(
  ts: TestServer,
  opts: { entitlements?: string[]; features?: string[]; slug?: string } = {},
): Promise<SeededTenant> {
  const slug = opts.slug ?? `t-${randomBytes(5).toString('hex')}`;
  const adminEmail = `admin@${slug}.test`;
  const created = await ts.server.services.tenants.createTenant({
    slug,
    name: `Tenant ${slug}`,
    entitlements: opts.entitlements ?? ['EAA', 'MFA'],
    features: opts.features ?? [],
    adminEmail,
    adminPassword: ADMIN_PASSWORD,
  });
  // Through the typed client, so the sign-in also works on a TRUSTED_DOCUMENTS_ONLY server.
  const anonymous = createRosterClient({ url: ts.url });
  const res = await anonymous.login({ input: { tenant: slug, email: adminEmail, password: ADMIN_PASSWORD } });
  const token = res.login.token;
  if (!token) throw new Error(`seed login failed: ${JSON.stringify(res)}`);
  return {
    tenantId: created.tenant.id,
    slug,
    adminEmail,
    adminPassword: ADMIN_PASSWORD,
    adminUserId: created.adminUserId,
    directoryId: created.directoryId,
    usersGroupId: created.usersGroupId,
    adminsGroupId: created.adminsGroupId,
    identityProviderId: created.identityProviderId,
    token,
  };
}

export interface GqlResponse<T> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[];
}

/** Plain GraphQL over HTTP, for tests that check raw responses. */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
): Promise<GqlResponse<T> & { status: number }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GqlResponse<T>;
  return { ...body, status: res.status };
}
