import type { RequestClient } from '../../shared/client.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { keysetPage, type ConnectionShape } from '../../shared/pagination.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import type { Viewer } from '../../shared/viewer.js';
import { AuditActorKind, type AuditActor, type AuditEntry } from '../audit/audit.types.js';
import { actorOf, type AuditService } from '../audit/audit.service.js';
import type { ProvisioningStore } from '../provisioning/provisioning.store.js';
import { configOf, type ConfigJson } from '../provisioning/provisioning.types.js';
import type { SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import { DEFAULT_COUNT, MAX_COUNT } from './scim-discovery.js';
import { invalidValue, ScimError } from './scim.errors.js';
import type { ActivityRow, ScimActivityStore } from './scim-activity.store.js';
import type { ScimStore } from './scim.store.js';

/** Who a SCIM request acts for: one provisioning of one tenant, found from its bearer token. */
export interface ScimPrincipal {
  tenantId: string;
  tenantName: string;
  provisioningId: string;
  provisioningName: string;
  config: ConfigJson;
  /** The provisioning's base URL, for `meta.location` and `$ref`. */
  base: string;
  /** The HTTP request (id and client address), for the audit trail. */
  request?: { id: string; address: string | null };
}

/** The audit actor of a SCIM request: the provisioning whose bearer token made it. */
export function scimActor(p: ScimPrincipal): AuditActor {
  return {
    kind: AuditActorKind.SCIM,
    id: p.provisioningId,
    name: p.provisioningName,
    requestId: p.request?.id ?? null,
    address: p.request?.address ?? null,
  };
}

/** What the router sends: status, body, headers. `result` is what the activity log records. */
export interface ScimResponse {
  status: number;
  body?: unknown;
  location?: string;
  etag?: string;
  result?: string;
  /** The audit events of a write, recorded in its transaction (never sent). */
  audit?: AuditEntry[];
}

export interface ListQuery {
  filter?: unknown;
  startIndex?: unknown;
  count?: unknown;
  attributes?: unknown;
  excludedAttributes?: unknown;
}

/** Grace period of the previous token after `rotateScimToken` unless the admin chooses another (0 ends it at once). */
export const DEFAULT_GRACE_MINUTES = 60;
export const MAX_GRACE_MINUTES = 7 * 24 * 60;
const RATE_WINDOW_SECONDS = 60;
const TOKEN_SHAPE = /^scim_[A-Za-z0-9_-]{43}$/;

/**
 * SCIM provisioning's own rules: bearer tokens (shown once, stored hashed, rotated with a
 * grace period), per-token rate limits, the activity log, and the one transaction every SCIM
 * write runs in. Users and groups are in ScimUserService / ScimGroupService.
 */
export class ScimService {
  constructor(
    private readonly d: {
      db: Db;
      store: ScimStore;
      activity: ScimActivityStore;
      provisionings: ProvisioningStore;
      limits: SignInLimitService;
      /** The origin SCIM URLs are built on (a function: by default the server's own, known once it listens). */
      publicOrigin: () => string;
      ratePerMinute: number;
      audit: AuditService;
    },
  ) {}

  baseUrl(provisioningId: string): string {
    return `${this.d.publicOrigin().replace(/\/+$/, '')}/scim/v2/${provisioningId}`;
  }

  /** A new token for the provisioning in the caller's transaction; the only time it exists in clear. */
  async issueToken(tenantId: string, provisioningId: string, tx: Executor): Promise<string> {
    const token = newToken('scim');
    await this.d.store.insertToken({ tenantId, provisioningId, tokenHash: hashToken(token) }, tx);
    return token;
  }

  /**
   * A new token; tokens issued before it keep working for `graceMinutes` (default 60) so the
   * identity provider can be updated without failed pushes.
   */
  async rotateToken(viewer: Viewer, provisioningId: string, graceMinutes: number | null | undefined) {
    const grace = graceMinutes ?? DEFAULT_GRACE_MINUTES;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_MINUTES) {
      throw DomainError.of(ErrorCode.INVALID_INPUT, `The grace period is 0 to ${MAX_GRACE_MINUTES} minutes.`, ['input', 'graceMinutes']);
    }
    return this.d.db.transaction(async (tx) => {
      const p = await this.d.provisionings.lock(viewer.tenantId, provisioningId, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      if (p.kind !== 'SCIM') throw DomainError.of(ErrorCode.INVALID_STATE, 'Only SCIM provisionings have a token.', ['input', 'id']);
      const previousTokenExpiresAt = new Date(Date.now() + grace * 60_000);
      await this.d.store.expireTokens(p.id, previousTokenExpiresAt, tx);
      const token = await this.issueToken(viewer.tenantId, p.id, tx);
      await this.d.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'provisioning.rotate_scim_token',
        targetType: 'Provisioning',
        targetId: p.id,
        targetName: p.name,
        changes: { previousTokenExpiresAt: { before: null, after: previousTokenExpiresAt.toISOString() } },
      });
      return { provisioning: p, token, previousTokenExpiresAt };
    });
  }

  /**
   * The bearer token of this provisioning's URL, in one statement that also counts the request
   * in the token's rate window. A wrong token goes through the sign-in limits (per client
   * address, then locked), so guessing is bounded like any credential; a valid one costs no
   * further query. A token of another provisioning is as wrong as an unknown one.
   */
  async authenticate(provisioningId: string, authorization: string | undefined, client: RequestClient): Promise<ScimPrincipal> {
    const m = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const token = m?.[1] ?? '';
    const found =
      isUuid(provisioningId) && TOKEN_SHAPE.test(token)
        ? await this.d.store.authenticate(provisioningId, hashToken(token), RATE_WINDOW_SECONDS)
        : null;
    if (!found) {
      try {
        await this.d.limits.guard(
          client,
          async () => ({ subject: `scim:${hashToken(token)}`, tenantId: null, countFirst: false }),
          { code: ErrorCode.TOKEN_INVALID, message: 'invalid' },
          async () => ({ ok: false }),
        );
      } catch (err) {
        const retryAfter = err instanceof DomainError ? (err.errors[0]?.retryAfter ?? null) : null;
        throw new ScimError(401, null, 'A valid bearer token of this SCIM provisioning is required.', retryAfter);
      }
      throw new ScimError(401, null, 'A valid bearer token of this SCIM provisioning is required.');
    }
    if (found.count > this.d.ratePerMinute) {
      throw new ScimError(429, 'tooMany', `At most ${this.d.ratePerMinute} requests per minute per token.`, found.retryAfter);
    }
    return {
      tenantId: found.tenantId,
      tenantName: found.tenantName,
      provisioningId: found.provisioningId,
      provisioningName: found.provisioningName,
      config: configOf(found.draft),
      base: this.baseUrl(found.provisioningId),
    };
  }

  /**
   * Runs one SCIM write in one transaction and records it in the activity log in that same
   * transaction: the log shows exactly what committed. Refusals are recorded by `refused`.
   */
  write(p: ScimPrincipal, method: string, resource: string, fn: (tx: Executor) => Promise<ScimResponse>): Promise<ScimResponse> {
    return this.d.db.transaction(async (tx) => {
      const r = await fn(tx);
      await this.d.activity.recordActivity(
        { tenantId: p.tenantId, provisioningId: p.provisioningId, method, resource, status: r.status, result: r.result ?? 'ok' },
        tx,
      );
      if (r.audit?.length) await this.d.audit.record(tx, p.tenantId, scimActor(p), r.audit);
      return r;
    });
  }

  /**
   * The one-statement create (`createUserLogged`) with its audit event in the same
   * transaction; with auditing off it stays a single statement.
   */
  async writeLogged<T>(p: ScimPrincipal, fn: (tx: Executor) => Promise<T | null>, audit: (value: T) => AuditEntry): Promise<T | null> {
    if (!this.d.audit.enabled) return fn(this.d.db);
    return this.d.db.transaction(async (tx) => {
      const value = await fn(tx);
      if (value !== null) await this.d.audit.record(tx, p.tenantId, scimActor(p), audit(value));
      return value;
    });
  }

  /** Records a refused request (any method), after its transaction rolled back. */
  async refused(p: ScimPrincipal, method: string, resource: string, err: ScimError): Promise<void> {
    await this.d.activity.recordActivity({
      tenantId: p.tenantId,
      provisioningId: p.provisioningId,
      method,
      resource,
      status: err.status,
      result: `${err.scimType ?? 'error'}: ${err.detail}`.slice(0, 500),
    });
  }

  activityPage(
    viewer: Viewer,
    provisioningId: string,
    args: { first?: number | null; after?: string | null },
  ): Promise<ConnectionShape<ActivityRow>> {
    return keysetPage(args, {
      key: (c) => {
        if (c.length !== 2 || typeof c[0] !== 'string' || typeof c[1] !== 'string' || !isUuid(c[1]) || Number.isNaN(Date.parse(c[0]))) {
          throw DomainError.of(ErrorCode.INVALID_INPUT, 'Invalid cursor.');
        }
        return [c[0], c[1]] as [string, string];
      },
      fetch: (limit, after) => this.d.activity.activityPage(viewer.tenantId, provisioningId, limit, after),
      cursorOf: (r) => [r.at.toISOString(), r.id],
      count: () => this.d.activity.activityCount(viewer.tenantId, provisioningId),
    });
  }

  /** Housekeeping: activity older than 30 days and tokens whose grace ended that long ago. */
  purge(): Promise<void> {
    return this.d.activity.purgeActivity(new Date(Date.now() - 30 * 24 * 3600_000));
  }
}

/** `startIndex` (1-based, below 1 taken as 1) and `count` (capped at MAX_COUNT, announced in ServiceProviderConfig). */
export function paging(q: ListQuery): { startIndex: number; count: number } {
  const int = (v: unknown, name: string, dflt: number) => {
    if (v === undefined || v === '') return dflt;
    if (typeof v !== 'string' || !/^-?\d{1,9}$/.test(v.trim())) throw invalidValue(`"${name}" must be an integer.`);
    return Number(v);
  };
  return {
    startIndex: Math.max(1, int(q.startIndex, 'startIndex', 1)),
    count: Math.min(MAX_COUNT, Math.max(0, int(q.count, 'count', DEFAULT_COUNT))),
  };
}

/** If-Match (RFC 7644 §3.14): a stale version is refused with 412. */
export function checkIfMatch(ifMatch: string | undefined, version: string): void {
  if (!ifMatch || ifMatch.trim() === '*') return;
  const wanted = ifMatch.split(',').map((s) => s.trim());
  if (!wanted.includes(version)) throw new ScimError(412, null, 'The resource changed since that version (If-Match).');
}
