import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { badUserInput, forbidden, toPayload } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId, fromGlobalId } from '../../shared/ids.js';
import { configOf } from './provisioning.service.js';
import {
  CreateProvisioningInput,
  DeleteProvisioningInput,
  DeleteProvisioningPayload,
  Provisioning,
  ProvisioningConfig,
  ProvisioningIdInput,
  ProvisioningPayload,
  SetProvisioningDirectoriesInput,
  SetProvisioningGroupsInput,
  SyncPlan,
  SyncRun,
  SyncRunConnection,
  SyncRunError,
  SyncRunIdInput,
  SyncRunPayload,
  UpdateProvisioningInput,
  type ConfigJson,
  type ProvisioningRow,
  type SyncRunRow,
} from './provisioning.types.js';
import { percentOf, runEvent, runFromEvent } from './sync.service.js';


function listLimit(limit: number | null | undefined): number {
  if (limit == null) return 100;
  if (!Number.isInteger(limit) || limit < 0 || limit > 1000) throw badUserInput('limit must be 0 to 1000.');
  return limit;
}

async function configView(ctx: Context, cfg: ConfigJson) {
  const directories = await Promise.all(
    cfg.directories.map(async (d) => {
      const dir = await ctx.loaders.directoryById.load(d.directoryId);
      const groups = await ctx.loaders.groupById.loadMany(d.groupIds);
      return {
        directoryId: toGlobalId('Directory', d.directoryId),
        directoryName: dir?.name ?? null,
        groupIds: d.groupIds.map((g) => toGlobalId('Group', g)),
        groupNames: groups.filter((g): g is NonNullable<typeof g> & { name: string } => !!g && !(g instanceof Error)).map((g) => g.name),
      };
    }),
  );
  return { ...cfg, directories };
}

@Resolver(() => Provisioning)
export class ProvisioningResolver {
  @Query(() => [Provisioning], { description: "The tenant's provisionings." })
  provisionings(@Ctx() ctx: Context): Promise<ProvisioningRow[]> {
    return ctx.services.provisionings.list(viewerOf(ctx));
  }

  @Query(() => Provisioning, { nullable: true, description: 'A provisioning by id; null if it does not exist in this tenant.' })
  provisioning(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id.' }) id: string) {
    return ctx.loaders.provisioningById.load(idOrNoMatch(id, 'Provisioning'));
  }

  @Query(() => SyncPlan, {
    nullable: true,
    description:
      'What a sync would do now, computed with the same rules as a run and writing nothing: users to create, update, claim, skip and remove (with the enrolled devices each removal destroys), and whether the removal guard would stop it. Null if the provisioning does not exist.',
  })
  previewSync(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'Global id of the provisioning.' }) id: string,
    @Arg('draft', () => Boolean, { nullable: true, description: 'Preview the draft instead of the deployed configuration (the draft is used anyway before the first deploy).' })
    draft?: boolean | null,
    @Arg('limit', () => Int, { nullable: true, description: 'Users per list, 0–1000 (default 100). Counts are always totals.' }) limit?: number | null,
  ) {
    return ctx.services.syncs.preview(viewerOf(ctx), idOrNoMatch(id, 'Provisioning'), { draft: draft === true, limit: listLimit(limit) });
  }

  @Mutation(() => ProvisioningPayload, { description: 'Creates a provisioning (EAA: at most one per tenant; needs the EAA and MFA entitlements).' })
  createProvisioning(@Ctx() ctx: Context, @Arg('input', () => CreateProvisioningInput, { description: 'Kind and name.' }) input: CreateProvisioningInput) {
    return toPayload(async () => ({ provisioning: await ctx.services.provisionings.create(viewerOf(ctx), input) }));
  }

  @Mutation(() => ProvisioningPayload, { description: 'Renames the provisioning and edits draft settings.' })
  updateProvisioning(@Ctx() ctx: Context, @Arg('input', () => UpdateProvisioningInput, { description: 'Changes.' }) input: UpdateProvisioningInput) {
    return toPayload(async () => ({
      provisioning: await ctx.services.provisionings.update(viewerOf(ctx), { ...input, id: idOrNoMatch(input.id, 'Provisioning') }),
    }));
  }

  @Mutation(() => ProvisioningPayload, { description: 'Sets the draft’s associated directories.' })
  setProvisioningDirectories(
    @Ctx() ctx: Context,
    @Arg('input', () => SetProvisioningDirectoriesInput, { description: 'Directories.' }) input: SetProvisioningDirectoriesInput,
  ) {
    return toPayload(async () => ({
      provisioning: await ctx.services.provisionings.setDirectories(
        viewerOf(ctx),
        idOrNoMatch(input.id, 'Provisioning'),
        input.directoryIds.map((d) => idOrNoMatch(d, 'Directory')),
      ),
    }));
  }

  @Mutation(() => ProvisioningPayload, { description: 'Sets the draft’s enabled groups of one associated directory.' })
  setProvisioningGroups(@Ctx() ctx: Context, @Arg('input', () => SetProvisioningGroupsInput, { description: 'Groups.' }) input: SetProvisioningGroupsInput) {
    return toPayload(async () => ({
      provisioning: await ctx.services.provisionings.setGroups(
        viewerOf(ctx),
        idOrNoMatch(input.id, 'Provisioning'),
        idOrNoMatch(input.directoryId, 'Directory'),
        input.groupIds.map((g) => idOrNoMatch(g, 'Group')),
      ),
    }));
  }

  @Mutation(() => ProvisioningPayload, { description: 'Save & Deploy: the draft becomes the configuration syncs use (a new version).' })
  deployProvisioning(@Ctx() ctx: Context, @Arg('input', () => ProvisioningIdInput, { description: 'The provisioning.' }) input: ProvisioningIdInput) {
    return toPayload(async () => ({ provisioning: await ctx.services.provisionings.deploy(viewerOf(ctx), idOrNoMatch(input.id, 'Provisioning')) }));
  }

  @Mutation(() => DeleteProvisioningPayload, { description: 'Deletes a provisioning; `ownedUsers` says what happens to the MFA users it owns.' })
  deleteProvisioning(@Ctx() ctx: Context, @Arg('input', () => DeleteProvisioningInput, { description: 'The provisioning and the choice.' }) input: DeleteProvisioningInput) {
    return toPayload(async () => {
      const r = await ctx.services.provisionings.delete(viewerOf(ctx), idOrNoMatch(input.id, 'Provisioning'), input.ownedUsers);
      return { deletedProvisioningId: toGlobalId('Provisioning', r.id), affectedUsers: r.affectedUsers, devicesRemoved: r.devicesRemoved };
    });
  }

  @FieldResolver(() => ID)
  id(@Root() p: ProvisioningRow): string {
    return toGlobalId('Provisioning', p.id);
  }

  @FieldResolver(() => ProvisioningConfig)
  draft(@Root() p: ProvisioningRow, @Ctx() ctx: Context) {
    return configView(ctx, configOf(p.draft));
  }

  @FieldResolver(() => ProvisioningConfig, { nullable: true })
  deployed(@Root() p: ProvisioningRow, @Ctx() ctx: Context) {
    return p.deployed ? configView(ctx, configOf(p.deployed)) : null;
  }

  @FieldResolver(() => Boolean)
  hasUndeployedChanges(@Root() p: ProvisioningRow): boolean {
    return JSON.stringify(configOf(p.draft)) !== JSON.stringify(p.deployed ? configOf(p.deployed) : null);
  }

  @FieldResolver(() => Int)
  ownedUserCount(@Root() p: ProvisioningRow, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.provisioningOwnedCount.load(p.id);
  }

  @FieldResolver(() => SyncRun, { nullable: true, description: 'The most recent sync run.' })
  lastRun(@Root() p: ProvisioningRow, @Ctx() ctx: Context) {
    return ctx.loaders.provisioningLastRun.load(p.id);
  }

  @FieldResolver(() => SyncRun, { nullable: true, description: 'The queued, running or approval-awaiting run, if any.' })
  async activeRun(@Root() p: ProvisioningRow, @Ctx() ctx: Context) {
    const r = await ctx.loaders.provisioningLastRun.load(p.id);
    return r && ['QUEUED', 'RUNNING', 'AWAITING_APPROVAL'].includes(r.status) ? r : null;
  }

  @FieldResolver(() => SyncRunConnection, { description: 'Sync runs of this provisioning, newest first.' })
  async syncRuns(
    @Root() p: ProvisioningRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return runsPage(ctx, p.id, first, after);
  }
}

async function runsPage(ctx: Context, provisioningId: string, first?: number | null, after?: string | null) {
  return ctx.services.syncs.runsPage(viewerOf(ctx), provisioningId, { first, after });
}

@Resolver(() => SyncRun)
export class SyncRunResolver {
  @Query(() => SyncRun, { nullable: true, description: 'A sync run by id.' })
  syncRun(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id.' }) id: string) {
    return ctx.loaders.syncRunById.load(idOrNoMatch(id, 'SyncRun'));
  }

  @Query(() => SyncRunConnection, { description: 'Sync run history of a provisioning, newest first.' })
  syncRuns(
    @Ctx() ctx: Context,
    @Arg('provisioningId', () => ID, { description: 'Global id of the provisioning.' }) provisioningId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return runsPage(ctx, idOrNoMatch(provisioningId, 'Provisioning'), first, after);
  }

  @Mutation(() => SyncRunPayload, { description: 'Starts a sync run, or returns the one already active.' })
  syncProvisioning(@Ctx() ctx: Context, @Arg('input', () => ProvisioningIdInput, { description: 'The provisioning.' }) input: ProvisioningIdInput) {
    return toPayload(async () => ({ syncRun: await ctx.services.syncs.manual(viewerOf(ctx), idOrNoMatch(input.id, 'Provisioning')) }));
  }

  @Mutation(() => SyncRunPayload, { description: 'Applies exactly the plan a run stopped on (AWAITING_APPROVAL).' })
  approveSyncRun(@Ctx() ctx: Context, @Arg('input', () => SyncRunIdInput, { description: 'The run.' }) input: SyncRunIdInput) {
    return toPayload(async () => ({ syncRun: await ctx.services.syncs.approve(viewerOf(ctx), idOrNoMatch(input.runId, 'SyncRun')) }));
  }

  @Mutation(() => SyncRunPayload, { description: 'Cancels a queued, running or awaiting run; what was applied stays applied.' })
  cancelSyncRun(@Ctx() ctx: Context, @Arg('input', () => SyncRunIdInput, { description: 'The run.' }) input: SyncRunIdInput) {
    return toPayload(async () => ({ syncRun: await ctx.services.syncs.cancel(viewerOf(ctx), idOrNoMatch(input.runId, 'SyncRun')) }));
  }

  @Subscription(() => SyncRun, {
    description: 'Live progress of a sync run: its current state at once, then phase changes and counts at least once a second, ending after a final event.',
    subscribe: ({ args, context }) => progress(context as Context, (args as { runId: string }).runId),
  })
  syncRunProgress(@Root() event: Record<string, unknown>, @Arg('runId', () => ID, { description: 'Global id of the run.' }) _runId: string): SyncRunRow {
    return runFromEvent(event);
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

  @FieldResolver(() => Boolean)
  approved(@Root() r: SyncRunRow): boolean {
    return r.approved === 1;
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
  async plan(
    @Root() r: SyncRunRow,
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, description: 'Users per list, 0–1000 (default 100).' }) limit?: number | null,
  ) {
    const run = r.config ? r : await freshRun(ctx, r.id);
    return run ? ctx.services.syncs.runPlan(run, listLimit(limit)) : null;
  }

  @FieldResolver(() => [SyncRunError])
  async errors(@Root() r: SyncRunRow, @Ctx() ctx: Context) {
    const row = r.errors != null ? r : await freshRun(ctx, r.id);
    const list = (Array.isArray(row?.errors) ? row.errors : []) as { directoryUserId: string | null; username: string | null; code: string; message: string }[];
    return list.slice(0, 1000).map((e) => ({ ...e, directoryUserId: e.directoryUserId ? toGlobalId('User', e.directoryUserId) : null }));
  }
}

/**
 * A progress event carries neither the error list nor the plan (NOTIFY payloads stay small):
 * read the run itself — uncached, since one subscription's context sees many events.
 */
async function freshRun(ctx: Context, id: string): Promise<SyncRunRow | null> {
  return ctx.services.syncs.run(viewerOf(ctx), id);
}

async function progress(ctx: Context, runGlobalId: string): Promise<AsyncGenerator<ReturnType<typeof runEvent>>> {
  const id = fromGlobalId(runGlobalId, 'SyncRun');
  const live = id ? await ctx.services.syncs.progress(viewerOf(ctx), id) : null;
  if (!live) throw forbidden('No such sync run.');
  return live;
}
