import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId } from '../../shared/ids.js';
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
  UpdateProvisioningInput,
  configOf,
  type ConfigJson,
  type ProvisioningRow,
} from './provisioning.types.js';

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
  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => [Provisioning], { description: "The tenant's provisionings." })
  provisionings(@Ctx() ctx: Context): Promise<ProvisioningRow[]> {
    return ctx.services.provisionings.list(viewerOf(ctx));
  }

  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => Provisioning, { nullable: true, description: 'A provisioning by id; null if it does not exist in this tenant.' })
  provisioning(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id.' }) id: string) {
    return ctx.loaders.provisioningById.load(idOrNoMatch(id, 'Provisioning'));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => ProvisioningPayload, {
    description:
      'Creates a provisioning (EAA: at most one per tenant, needs the EAA and MFA entitlements; SCIM: many, needs MFA, and the payload carries its bearer token once, so an API token may not create one: admin sessions only).',
  })
  createProvisioning(
    @Ctx() ctx: Context,
    @Arg('input', () => CreateProvisioningInput, { description: 'Kind and name.' }) input: CreateProvisioningInput,
  ) {
    return toPayload(async () => ctx.services.provisionings.create(viewerOf(ctx), input));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => ProvisioningPayload, { description: 'Renames the provisioning and edits draft settings.' })
  updateProvisioning(
    @Ctx() ctx: Context,
    @Arg('input', () => UpdateProvisioningInput, { description: 'Changes.' }) input: UpdateProvisioningInput,
  ) {
    return toPayload(async () => ({
      provisioning: await ctx.services.provisionings.update(viewerOf(ctx), { ...input, id: idOrNoMatch(input.id, 'Provisioning') }),
    }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
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

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => ProvisioningPayload, { description: 'Sets the draft’s enabled groups of one associated directory.' })
  setProvisioningGroups(
    @Ctx() ctx: Context,
    @Arg('input', () => SetProvisioningGroupsInput, { description: 'Groups.' }) input: SetProvisioningGroupsInput,
  ) {
    return toPayload(async () => ({
      provisioning: await ctx.services.provisionings.setGroups(
        viewerOf(ctx),
        idOrNoMatch(input.id, 'Provisioning'),
        idOrNoMatch(input.directoryId, 'Directory'),
        input.groupIds.map((g) => idOrNoMatch(g, 'Group')),
      ),
    }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => ProvisioningPayload, { description: 'Save & Deploy: the draft becomes the configuration syncs use (a new version).' })
  deployProvisioning(
    @Ctx() ctx: Context,
    @Arg('input', () => ProvisioningIdInput, { description: 'The provisioning.' }) input: ProvisioningIdInput,
  ) {
    return toPayload(async () => ({
      provisioning: await ctx.services.provisionings.deploy(viewerOf(ctx), idOrNoMatch(input.id, 'Provisioning')),
    }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => DeleteProvisioningPayload, {
    description: 'Deletes a provisioning; `ownedUsers` says what happens to the MFA users it owns.',
  })
  deleteProvisioning(
    @Ctx() ctx: Context,
    @Arg('input', () => DeleteProvisioningInput, { description: 'The provisioning and the choice.' }) input: DeleteProvisioningInput,
  ) {
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
    if (p.kind === 'SCIM') return false; // no deploy: settings apply at once
    return JSON.stringify(configOf(p.draft)) !== JSON.stringify(p.deployed ? configOf(p.deployed) : null);
  }

  @FieldResolver(() => Int)
  ownedUserCount(@Root() p: ProvisioningRow, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.provisioningOwnedCount.load(p.id);
  }
}
