import { z } from 'zod';

/**
 * The only reader of process.env. Everything the service can be configured with is listed
 * here, validated once at start-up; a bad value stops the process with one clear message.
 */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().default('./.data'),
  /**
   * The server key (32 bytes, base64 or hex) sealing data kept to be read back: uploads, TOTP
   * secrets (server/shared/secret-key.ts). Unset: generated once as DATA_DIR/secret.key (0600).
   * Replicas sharing a database must all be given the same key.
   */
  ROSTER_SECRET_KEY: z.string().optional(),
  /** Former keys, comma-separated, still accepted for opening values after a rotation. */
  ROSTER_SECRET_KEY_PREVIOUS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SESSION_TTL_HOURS: z.coerce.number().positive().default(12),
  /** Audit events older than this are purged by housekeeping. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(365),
  /** Benchmarks only: `false` writes no audit events (to measure what auditing costs). */
  AUDIT_ENABLED: z.enum(['true', 'false']).default('true'),
  /** How long the previous secret of a rotated API token keeps working (0: not at all). */
  API_TOKEN_ROTATION_GRACE_HOURS: z.coerce.number().min(0).max(720).default(24),
  /** How often an open websocket re-checks its session (expiry; a revocation it missed). */
  WS_SESSION_RECHECK_MS: z.coerce.number().int().min(50).max(3_600_000).default(30_000),
  /** How often websockets are pinged; one that has not answered the previous ping is dropped. */
  WS_KEEPALIVE_MS: z.coerce.number().int().min(50).max(3_600_000).default(12_000),
  /** Introspection is on outside production unless explicitly disabled. */
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
  /**
   * Public URL of the login portal; invitation links are built on it. Unset: this server's own
   * portal, `http://<HOST or localhost>:<the port it listens on>/portal`.
   */
  PORTAL_BASE_URL: z.string().url().optional(),
  /** The GraphiQL explorer on `GET /graphql` for browsers; unset: on unless production or TRUSTED_DOCUMENTS_ONLY. */
  GRAPHQL_EXPLORER: z.enum(['true', 'false']).optional(),
  /**
   * `true`: `/graphql` (HTTP and websocket) runs only the documents of the persisted-documents
   * manifest, sent by `documentId`; any other document is refused before it is parsed.
   */
  TRUSTED_DOCUMENTS_ONLY: z.enum(['true', 'false']).default('false'),
  /** The manifest (`sha256:<hex>` → document), relative to the project root; unset: the typed client's. */
  TRUSTED_DOCUMENTS_MANIFEST: z.string().optional(),
  /**
   * Public origin of this server (scheme, host, port), on which SCIM base URLs and
   * `meta.location` are built. Unset: the origin of PORTAL_BASE_URL, else this server's own.
   */
  PUBLIC_URL: z.string().url().optional(),
  /** SCIM requests per minute per bearer token (counted in the database, across replicas); over it: 429 + Retry-After. */
  SCIM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(3000),
  INVITATION_TTL_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().default('Roster <no-reply@roster.local>'),
  /** Skip creating the demo tenant on an empty database (set in production). */
  SEED_DEMO: z.enum(['true', 'false']).default('true'),
  /** Run background workers (mail, bulk jobs, syncs) in this process. */
  WORKERS: z.enum(['true', 'false']).default('true'),
  /** How often each replica looks for provisionings whose sync is due. */
  SYNC_TICK_MS: z.coerce.number().int().min(50).default(15_000),
  /** Rows per sync transaction (plan, create, update, remove steps): bounds each lock and each checkpoint. */
  SYNC_CHUNK_SIZE: z.coerce.number().int().min(10).max(50_000).default(2000),
  JOB_POLL_MS: z.coerce.number().int().min(10).default(1000),
  JOB_LEASE_MS: z.coerce.number().int().min(100).default(30_000),
  /** Operation limits, checked before any resolver runs (README, "Security"). */
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(2000),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(3).default(10),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  GRAPHQL_MAX_ROOT_FIELDS: z.coerce.number().int().min(1).default(20),
  /** Estimated objects per operation; unset: 6,000 on PGlite, 20,000 on PostgreSQL. */
  GRAPHQL_MAX_COST: z.coerce.number().int().min(100).optional(),
  /** Largest websocket message accepted (bytes); a bigger one closes the socket (1009). */
  WS_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .default(1024 * 1024),
  /** Operations (subscriptions included) running at once on one websocket. */
  WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).default(20),
  /**
   * Express `trust proxy`: which proxies' X-Forwarded-For to believe for the client address
   * that sign-in limits count. Off by default (the socket's peer address is the client): turn
   * it on only behind a proxy that sets the header, else clients could pick their address.
   * `true` (the left-most address), a hop count, or comma-separated addresses/subnets/names
   * such as `loopback, 10.0.0.0/8`.
   */
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d+|[\w.:/, -]+)$/, 'must be true, false, a hop count or a list of addresses/subnets')
    .default('false'),
  /** Failed credential checks per account (tenant + email, or link token) before it is locked. */
  SIGN_IN_MAX_FAILURES: z.coerce.number().int().min(1).default(10),
  /** Failures per account allowed before each further one delays the next attempt (1 s, 2 s, 4 s, …). */
  SIGN_IN_DELAY_AFTER: z.coerce.number().int().min(0).default(3),
  /** Failed credential checks per client address (any account) before the address is locked. */
  SIGN_IN_ADDRESS_MAX_FAILURES: z.coerce.number().int().min(1).default(50),
  /** Failures per client address allowed before delays start. */
  SIGN_IN_ADDRESS_DELAY_AFTER: z.coerce.number().int().min(0).default(20),
  /** How long a lock lasts, and how long a failure is remembered. */
  SIGN_IN_LOCK_MINUTES: z.coerce.number().positive().default(15),
  /** Wrong second factors (`verifyMfa`) per MFA user, within the lock period, before the user's factor is locked. */
  MFA_VERIFY_MAX_FAILURES: z.coerce.number().int().min(1).default(5),
  /** How long a second-factor lock lasts, and how long a failed verification is remembered. */
  MFA_VERIFY_LOCK_MINUTES: z.coerce.number().positive().default(15),
  /** WebAuthn relying-party id (a registrable domain); unset: the host of PORTAL_BASE_URL. */
  WEBAUTHN_RP_ID: z.string().optional(),
  /** Name authenticators show for the relying party. */
  WEBAUTHN_RP_NAME: z.string().default('Roster'),
  /** Origins a WebAuthn response may come from (comma-separated); unset: the origin of PORTAL_BASE_URL. */
  WEBAUTHN_ORIGINS: z.string().optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
});

export type Env = z.infer<typeof schema> & {
  introspection: boolean;
  explorer: boolean;
  trustProxy: boolean | number | string;
  /** PUBLIC_URL's origin, else PORTAL_BASE_URL's; null: the server's own, known once it listens. */
  publicOrigin: string | null;
};

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  const introspection = env.GRAPHQL_INTROSPECTION !== undefined ? env.GRAPHQL_INTROSPECTION === 'true' : env.NODE_ENV !== 'production';
  // The explorer sends typed documents, which a trusted-documents server refuses.
  const explorer =
    env.GRAPHQL_EXPLORER !== undefined
      ? env.GRAPHQL_EXPLORER === 'true'
      : env.NODE_ENV !== 'production' && env.TRUSTED_DOCUMENTS_ONLY !== 'true';
  const t = env.TRUST_PROXY;
  const trustProxy = t === 'true' ? true : t === 'false' ? false : /^\d+$/.test(t) ? Number(t) : t;
  const base = env.PUBLIC_URL ?? env.PORTAL_BASE_URL;
  const publicOrigin = base ? new URL(base).origin : null;
  return { ...env, introspection, explorer, trustProxy, publicOrigin };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
