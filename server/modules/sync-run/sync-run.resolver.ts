import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { badUserInput, forbidden, toPayload } from '../../shared/errors.js';
import { fromGlobalId, idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import { Provisioning, ProvisioningIdInput, type ProvisioningRow } from '../provisioning/provisioning.types.js';
import { percentOf } from './sync-plan.js';
import {
  ACTIVE_RUN_STATUSES,
  COLLISION_RULE,
  SyncPlan,
  SyncRun,
  SyncRunConnection,
  SyncRunError,
  SyncRunIdInput,
  SyncRunPayload,
  type SyncRunRow,
} from './sync-run.types.js';

function listLimit(limit: number | null | undefined): number {
  if (limit == null) return 100;
  if (!Number.isInteger(limit) || limit < 0 || limit > 1000) throw badUserInput('limit must be 0 to 1000.');
  return limit;
}

function runsPage(ctx: Context, provisioningId: string, first?: number | null, after?: string | null) {
  return ctx.services.syncRuns.runsPage(viewerOf(ctx), provisioningId, { first, after });
}

async function progress(ctx: Context, runGlobalId: string): Promise<AsyncIterableIterator<SyncRunRow>> {
  const id = fromGlobalId(runGlobalId, 'SyncRun');
  const live = id ? await ctx.services.syncRuns.progress(viewerOf(ctx), id) : null;
  if (!live) throw forbidden('No such sync run.');
  return live;
}

@Resolver(() => SyncRun)
export class SyncRunResolver {
  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => SyncRun, { nullable: true, description: 'A sync run by id.' })
  syncRun(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id.' }) id: string) {
    return ctx.loaders.syncRunById.load(idOrNoMatch(id, 'SyncRun'));
  }

  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => SyncRunConnection, { description: 'Sync run history of a provisioning, newest first.' })
  syncRuns(
    @Ctx() ctx: Context,
    @Arg('provisioningId', () => ID, { description: 'Global id of the provisioning.' }) provisioningId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return runsPage(ctx, idOrNoMatch(provisioningId, 'Provisioning'), first, after);
  }

  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => SyncPlan, {
    nullable: true,
    description: `What a sync would do now, computed with the same rules as a run and writing nothing: users to create, update, claim, skip and remove (with the enrolled devices each removal destroys), and whether the removal guard would stop it. ${COLLISION_RULE} Null if the provisioning does not exist.`,
  })
  previewSync(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'Global id of the provisioning.' }) id: string,
    @Arg('draft', () => Boolean, {
      nullable: true,
      description: 'Preview the draft instead of the deployed configuration (the draft is used anyway before the first deploy).',
    })
    draft?: boolean | null,
    @Arg('limit', () => Int, { nullable: true, description: 'Users per list, 0–1000 (default 100). Counts are always totals.' })
    limit?: number | null,
  ) {
    return ctx.services.syncRuns.preview(viewerOf(ctx), idOrNoMatch(id, 'Provisioning'), {
      draft: draft === true,
      limit: listLimit(limit),
    });
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => SyncRunPayload, { description: 'Starts a sync run, or returns the one already active.' })
  syncProvisioning(
    @Ctx() ctx: Context,
    @Arg('input', () => ProvisioningIdInput, { description: 'The provisioning.' }) input: ProvisioningIdInput,
  ) {
    return toPayload(async () => ({ syncRun: await ctx.services.syncRuns.manual(viewerOf(ctx), idOrNoMatch(input.id, 'Provisioning')) }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => SyncRunPayload, { description: 'Applies exactly the plan a run stopped on (AWAITING_APPROVAL).' })
  approveSyncRun(@Ctx() ctx: Context, @Arg('input', () => SyncRunIdInput, { description: 'The run.' }) input: SyncRunIdInput) {
    return toPayload(async () => ({ syncRun: await ctx.services.syncRuns.approve(viewerOf(ctx), idOrNoMatch(input.runId, 'SyncRun')) }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => SyncRunPayload, { description: 'Cancels a queued, running or awaiting run; what was applied stays applied.' })
  cancelSyncRun(@Ctx() ctx: Context, @Arg('input', () => SyncRunIdInput, { description: 'The run.' }) input: SyncRunIdInput) {
    return toPayload(async () => ({ syncRun: await ctx.services.syncRuns.cancel(viewerOf(ctx), idOrNoMatch(input.runId, 'SyncRun')) }));
  }

  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Subscription(() => SyncRun, {
    description:
      'Live progress of a sync run: its current state at once, then phase changes and counts at least once a second, ending after a final event.',
    subscribe: ({ args, context }) => progress(context as Context, (args as { runId: string }).runId),
  })
  syncRunProgress(@Root() run: SyncRunRow, @Arg('runId', () => ID, { description: 'Global id of the run.' }) _runId: string): SyncRunRow {
    return run;
  }

  @FieldResolver(() => ID)
  id(@Root() r: SyncRunRow): string {
    return toGlobalId('SyncRun', r.id);
  }

  @FieldResolver(() => ID)
  provisioningId(@Root() r: SyncRunRow): string {
    return toGlobalId('Provisioning', r.provisioningId);
  }

  @FieldResolver(() => Float)
  percent(@Root() r: SyncRunRow): number {
    return percentOf(r);
  }

  @FieldResolver(() => Int)
  desiredUsers(@Root() r: SyncRunRow): number {
    return r.desiredTotal;
  }

  @FieldResolver(() => Int)
  stagedUsers(@Root() r: SyncRunRow): number {
    return r.staged;
  }

  @FieldResolver(() => SyncPlan, {
    nullable: true,
    description:
      'The plan this run computed and applies (null before planning ends). Its user lists are available while the run is active — e.g. awaiting approval — and empty once it has ended; counts always.',
  })
  plan(
    @Root() r: SyncRunRow,
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, description: 'Users per list, 0–1000 (default 100).' }) limit?: number | null,
  ) {
    return ctx.services.syncRuns.runPlan(viewerOf(ctx), r, listLimit(limit));
  }

  @FieldResolver(() => [SyncRunError])
  errors(@Root() r: SyncRunRow, @Ctx() ctx: Context) {
    return ctx.services.syncRuns.errors(viewerOf(ctx), r);
  }
}

/** The run fields of a provisioning. */
@Resolver(() => Provisioning)
export class ProvisioningRunsResolver {
  @FieldResolver(() => SyncRun, { nullable: true, description: 'The most recent sync run.' })
  lastRun(@Root() p: ProvisioningRow, @Ctx() ctx: Context) {
    return ctx.loaders.provisioningLastRun.load(p.id);
  }

  @FieldResolver(() => SyncRun, { nullable: true, description: 'The queued, running or approval-awaiting run, if any.' })
  async activeRun(@Root() p: ProvisioningRow, @Ctx() ctx: Context) {
    const r = await ctx.loaders.provisioningLastRun.load(p.id);
    return r && ACTIVE_RUN_STATUSES.includes(r.status) ? r : null;
  }

  @FieldResolver(() => SyncRunConnection, { description: 'Sync runs of this provisioning, newest first.' })
  syncRuns(
    @Root() p: ProvisioningRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return runsPage(ctx, p.id, first, after);
  }
}
