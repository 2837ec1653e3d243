import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { parseGlobalId, toGlobalId } from '../../shared/ids.js';
import { ApiScope, assertScope, RequiresScope } from '../../shared/scopes.js';
import { BulkOperation, type BulkOperationRow } from '../bulk-operation/bulk-operation.types.js';
import { SyncRun, SyncTrigger, type SyncRunRow } from '../sync-run/sync-run.types.js';
import { User } from '../user/user.types.js';
import type { UserRow } from '../user/user.types.js';
import {
  AuditActorKind,
  AuditChange,
  AuditEvent,
  AuditEventActor,
  AuditEventConnection,
  AuditEventFilter,
  AuditEventStreamFilter,
  AuditEventTarget,
  type AuditEventRow,
  type AuditQuery,
} from './audit.types.js';
import { actorView, changesOf, targetView } from './audit.view.js';

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

  @RequiresScope(ApiScope.AUDIT_READ)
  @Subscription(() => AuditEvent, {
    // The same name as the query: `subscription { auditEvents { … } }` is its live counterpart.
    name: 'auditEvents',
    description:
      "The tenant's audit events as their changes commit (a rolled-back change sends nothing), from the moment of subscribing; a live feed for services that react to changes instead of polling.",
    subscribe: ({ args, context }) => {
      const f = (args as { filter?: AuditEventStreamFilter | null }).filter;
      return (context as Context).services.audit.follow(viewerOf(context as Context), {
        action: f?.action ?? null,
        targetType: f?.targetType ?? null,
        actorKind: f?.actorKind ?? null,
      });
    },
  })
  auditEventsLive(
    @Root() event: AuditEventRow,
    @Arg('filter', () => AuditEventStreamFilter, { nullable: true, description: 'Conditions (all must hold).' })
    _filter?: AuditEventStreamFilter,
  ): AuditEventRow {
    return event;
  }

  @FieldResolver(() => ID)
  id(@Root() e: AuditEventRow): string {
    return toGlobalId('AuditEvent', String(e.seq));
  }

  @FieldResolver(() => AuditEventActor)
  actor(@Root() e: AuditEventRow): AuditEventActor {
    return actorView(e);
  }

  @FieldResolver(() => AuditEventTarget)
  target(@Root() e: AuditEventRow): AuditEventTarget {
    return targetView(e);
  }

  @FieldResolver(() => [AuditChange])
  changes(@Root() e: AuditEventRow): AuditChange[] {
    return Object.entries(changesOf(e)).map(([field, v]) => ({
      field,
      before: v.before === null || v.before === undefined ? null : JSON.stringify(v.before),
      after: v.after === null || v.after === undefined ? null : JSON.stringify(v.after),
    }));
  }
}

/** Who started a run or operation, in the shape of an audit actor (an admin, an API token, the scheduler). */
function startedBy(userId: string | null, tokenId: string | null): AuditEventActor {
  if (tokenId) return { kind: AuditActorKind.API_TOKEN, id: toGlobalId('ApiToken', tokenId), name: null };
  if (userId) return { kind: AuditActorKind.ADMIN, id: toGlobalId('User', userId), name: null };
  return { kind: AuditActorKind.SCHEDULER, id: null, name: null };
}

@Resolver(() => BulkOperation)
export class BulkOperationStartedByResolver {
  @FieldResolver(() => AuditEventActor, {
    description: 'Who started it: an admin (`id` a User) or an API token (`id` an ApiToken); `name` is null (look the id up).',
  })
  startedBy(@Root() op: BulkOperationRow): AuditEventActor {
    return startedBy(op.actorUserId, op.actorTokenId);
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

  @FieldResolver(() => AuditEventActor, {
    description:
      'Who started it: the scheduler (scheduled runs), or the admin (`id` a User) or API token (`id` an ApiToken) that asked for a manual run; `name` is null.',
  })
  startedBy(@Root() r: SyncRunRow): AuditEventActor {
    return r.trigger === SyncTrigger.MANUAL ? startedBy(r.requestedBy, r.requestedByTokenId) : startedBy(null, null);
  }
}
