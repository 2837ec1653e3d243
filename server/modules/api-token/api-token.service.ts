import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode, forbidden, type UserError } from '../../shared/errors.js';
import { keysetPage, sortValueAndIdKey } from '../../shared/pagination.js';
import { API_SCOPES, type ApiScope } from '../../shared/scopes.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import { checkName } from '../../shared/validation.js';
import type { Viewer } from '../../shared/viewer.js';
import { actorOf, type AuditService } from '../audit/audit.service.js';
import type { AuthService } from '../auth/auth.service.js';
import type { ApiTokenStore } from './api-token.store.js';
import type { ApiTokenRow } from './api-token.types.js';

/** `rst_at_` + 43 base64url characters: longer than a session token (`rst_` + 43), so the two never look alike. */
export const API_TOKEN_PREFIX = 'rst_at';
const API_TOKEN_SHAPE = /^rst_at_[A-Za-z0-9_-]{43}$/;

/** A use is written to the token row at most this often (the row would otherwise be written on every request). */
const TOUCH_EVERY_MS = 60_000;

const target = (t: ApiTokenRow) => ({ targetType: 'ApiToken', targetId: t.id, targetName: t.name });

export function looksLikeApiToken(secret: string): boolean {
  return secret.length === 50 && secret.startsWith('rst_at_');
}

/**
 * Scoped API tokens for services. Only admin sessions manage them (a token cannot create,
 * rotate or revoke tokens, its own included: a leaked token must not be able to mint a new
 * one). Secrets are shown once and stored as SHA-256 digests.
 */
export class ApiTokenService {
  constructor(
    private readonly db: Db,
    private readonly store: ApiTokenStore,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
    private readonly rotationGraceMs: number,
  ) {}

  private assertSession(viewer: Viewer): void {
    if (viewer.apiToken || !viewer.sessionId) throw forbidden('Only admin sessions manage API tokens; an API token cannot.');
  }

  async create(
    viewer: Viewer,
    input: { name: string; scopes: readonly ApiScope[]; expiresAt?: Date | null },
  ): Promise<{ token: ApiTokenRow; secret: string }> {
    this.assertSession(viewer);
    const errors: UserError[] = [];
    const name = checkName(input.name, 'Name', ['input', 'name'], errors);
    const scopes = [...new Set(input.scopes)].filter((s) => API_SCOPES.has(s)).sort();
    if (!scopes.length)
      errors.push({ code: ErrorCode.INVALID_INPUT, message: 'Give the token at least one scope.', field: ['input', 'scopes'] });
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      errors.push({ code: ErrorCode.INVALID_INPUT, message: 'The expiry must be in the future.', field: ['input', 'expiresAt'] });
    if (errors.length) throw new DomainError(errors);
    const secret = newToken(API_TOKEN_PREFIX);
    const token = await this.db.transaction(async (tx) => {
      const row = await this.store.insert(
        {
          tenantId: viewer.tenantId,
          name,
          scopes,
          tokenHash: hashToken(secret),
          createdBy: viewer.userId,
          expiresAt: input.expiresAt ?? null,
        },
        tx,
      );
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'api_token.create',
        ...target(row),
        changes: {
          name: { before: null, after: name },
          scopes: { before: null, after: scopes },
          expiresAt: { before: null, after: row.expiresAt?.toISOString() ?? null },
        },
      });
      return row;
    });
    return { token, secret };
  }

  page(viewer: Viewer, args: { first?: number | null; after?: string | null }) {
    this.assertSession(viewer);
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) => this.store.page(viewer.tenantId, limit, after),
      cursorOf: (r) => [r.createdAt.toISOString(), r.id],
      count: () => this.store.count(viewer.tenantId),
    });
  }

  async byId(viewer: Viewer, id: string): Promise<ApiTokenRow | null> {
    this.assertSession(viewer);
    const [row] = await this.store.byIds(viewer.tenantId, [id]);
    return row ?? null;
  }

  /** Revokes at once (both secrets of a rotation); its open websockets are closed like ended sessions. */
  async revoke(viewer: Viewer, id: string): Promise<ApiTokenRow> {
    this.assertSession(viewer);
    const token = await this.db.transaction(async (tx) => {
      const current = await this.store.lockOne(viewer.tenantId, id, tx);
      if (!current) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such API token.', ['input', 'id']);
      if (current.revokedAt) throw DomainError.of(ErrorCode.INVALID_STATE, 'The token is already revoked.', ['input', 'id']);
      const row = (await this.store.revoke(viewer.tenantId, id, tx))!;
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'api_token.revoke',
        ...target(row),
        changes: { revokedAt: { before: null, after: row.revokedAt?.toISOString() ?? null } },
      });
      return row;
    });
    await this.auth.announceEnded({ tenantId: viewer.tenantId, sessionIds: [token.id] });
    return token;
  }

  /**
   * A new secret for the same token (name, scopes, expiry and history kept). The previous
   * secret keeps working for the grace period (API_TOKEN_ROTATION_GRACE_HOURS) so the service
   * can switch over; a second rotation ends the grace of the first at once.
   */
  async rotate(viewer: Viewer, id: string): Promise<{ token: ApiTokenRow; secret: string }> {
    this.assertSession(viewer);
    const secret = newToken(API_TOKEN_PREFIX);
    const token = await this.db.transaction(async (tx) => {
      const current = await this.store.lockOne(viewer.tenantId, id, tx);
      if (!current) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such API token.', ['input', 'id']);
      if (current.revokedAt) throw DomainError.of(ErrorCode.INVALID_STATE, 'A revoked token cannot be rotated.', ['input', 'id']);
      if (current.expiresAt && current.expiresAt.getTime() <= Date.now())
        throw DomainError.of(ErrorCode.INVALID_STATE, 'An expired token cannot be rotated; create a new one.', ['input', 'id']);
      const row = (await this.store.rotate(viewer.tenantId, id, hashToken(secret), new Date(Date.now() + this.rotationGraceMs), tx))!;
      // The secret itself is never recorded: only that it changed and until when the old one works.
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'api_token.rotate',
        ...target(row),
        changes: {
          secret: { before: '[redacted]', after: '[redacted]' },
          previousExpiresAt: { before: null, after: row.previousExpiresAt?.toISOString() ?? null },
        },
      });
      return row;
    });
    return { token, secret };
  }

  /**
   * Secret → viewer, or null for every failure alike (unknown, revoked, expired, a previous
   * secret past its grace). Records the use (time and address) at most once a minute.
   */
  async resolve(secret: string, address: string | null): Promise<Viewer | null> {
    if (!API_TOKEN_SHAPE.test(secret)) return null;
    const t = await this.store.byHash(hashToken(secret));
    const now = Date.now();
    if (!t || t.revokedAt || (t.expiresAt && t.expiresAt.getTime() <= now)) return null;
    if (t.viaPrevious && (!t.previousExpiresAt || t.previousExpiresAt.getTime() <= now)) return null;
    // Best effort: a failed write must not refuse a valid token (the next use tries again).
    if (!t.lastUsedAt || now - t.lastUsedAt.getTime() >= TOUCH_EVERY_MS) await this.store.touch(t.id, address).catch(() => undefined);
    const scopes = t.scopes.filter((s): s is ApiScope => API_SCOPES.has(s));
    return { tenantId: t.tenantId, userId: null, sessionId: null, apiToken: { id: t.id, name: t.name, scopes } };
  }
}
