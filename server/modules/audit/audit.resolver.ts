import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { parseGlobalId, toGlobalId } from '../../shared/ids.js';
import { ApiScope, assertScope, RequiresScope } from '../../shared/scopes.js';
import { SyncRun, type SyncRunRow } from '../sync-run/sync-run.types.js';
import { User } from '../user/user.types.js';
import type { UserRow } from '../user/user.types.js';
import {
  AuditActorKind,
  AuditChange,
  AuditEvent,
  AuditEventActor,
  AuditEventConnection,
  AuditEventFilter,
  AuditEventTarget,
  type AuditEventRow,
  type AuditQuery,
} from './audit.types.js';

const NO_MATCH = '00000000-0000-0000-0000-000000000000';

/** The filter's global ids as raw ids (an id of another shape matches nothing, like another tenant's). */
function toQuery(f: AuditEventFilter | null | undefined): AuditQuery {
  const raw = (id: string | null | undefined) => (id ? (parseGlobalId(id)?.id ?? NO_MATCH) : null);
  return {
    actorId: raw(f?.actor),
    actorKind: f?.actorKind ?? null,
    targetId: raw(f?.target),
    action: f?.action ?? null,
    since: f?.since ?? null,
    until: f?.until ?? null,
  };
}

@Resolver(() => AuditEvent)
export class AuditResolver {
  @RequiresScope(ApiScope.AUDIT_READ)
  @Query(() => AuditEventConnection, {
    description: "The tenant's audit trail, newest first: every change with who made it, before and after values, and sign-ins.",
  })
  auditEvents(
    @Ctx() ctx: Context,
    @Arg('filter', () => AuditEventFilter, { nullable: true, description: 'Conditions (all must hold).' }) filter?: AuditEventFilter,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return ctx.services.audit.page(viewerOf(ctx), toQuery(filter), { first, after });
  }

  @FieldResolver(() => ID)
  id(@Root() e: AuditEventRow): string {
    return toGlobalId('AuditEvent', e.id);
  }

  @FieldResolver(() => AuditEventActor)
  actor(@Root() e: AuditEventRow): AuditEventActor {
    const type = e.actorKind === AuditActorKind.API_TOKEN ? 'ApiToken' : 'User';
    return { kind: e.actorKind as AuditActorKind, id: e.actorId ? toGlobalId(type, e.actorId) : null, name: e.actorName };
  }

  @FieldResolver(() => AuditEventTarget)
  target(@Root() e: AuditEventRow): AuditEventTarget {
    return { type: e.targetType, id: e.targetId ? toGlobalId(e.targetType, e.targetId) : null, name: e.targetName };
  }

  @FieldResolver(() => [AuditChange])
  changes(@Root() e: AuditEventRow): AuditChange[] {
    const c = (typeof e.changes === 'string' ? JSON.parse(e.changes) : e.changes) as Record<
      string,
      { before: unknown; after: unknown }
    > | null;
    return Object.entries(c ?? {}).map(([field, v]) => ({
      field,
      before: v.before === null || v.before === undefined ? null : JSON.stringify(v.before),
      after: v.after === null || v.after === undefined ? null : JSON.stringify(v.after),
    }));
  }
}

/** The events naming a user as target (the trail of one account), newest first. */
@Resolver(() => User)
export class UserAuditResolver {
  @FieldResolver(() => AuditEventConnection, {
    description: 'Audit events about this user, newest first (needs audit:read for API tokens).',
  })
  auditEvents(
    @Root() u: UserRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    assertScope(ctx.viewer, ApiScope.AUDIT_READ, 'User.auditEvents');
    return ctx.services.audit.page(viewerOf(ctx), { targetId: u.id }, { first, after });
  }
}

/** A sync run's summary and per-user events (created, updated, claimed, removed), newest first. */
@Resolver(() => SyncRun)
export class SyncRunAuditResolver {
  @FieldResolver(() => AuditEventConnection, {
    description: "Audit events of this run's effects: its summary and one per user created, updated, claimed or removed.",
  })
  auditEvents(
    @Root() r: SyncRunRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
    @Arg('action', () => String, { nullable: true, description: 'Only this action (`sync.remove`) or prefix (`sync.`).' })
    action?: string,
  ) {
    assertScope(ctx.viewer, ApiScope.AUDIT_READ, 'SyncRun.auditEvents');
    return ctx.services.audit.page(viewerOf(ctx), { sourceId: r.id, action: action ?? null }, { first, after });
  }
}
