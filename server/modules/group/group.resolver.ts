import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, Field, FieldResolver, ID, Info, InputType, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { toPayload } from '../../shared/errors.js';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { fromGlobalId, NO_MATCH, toGlobalId } from '../../shared/ids.js';
import { nodesFields, rowKeysFor } from '../../shared/lookahead.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import { Directory, type DirectoryRow } from '../directory/directory.types.js';
import { UserConnection, type UserRow } from '../user/user.types.js';
import {
  CreateGroupInput,
  DeleteGroupInput,
  DeleteGroupPayload,
  Group,
  GroupConnection,
  GroupMembersInput,
  GroupPayload,
  UpdateGroupInput,
  type GroupRow,
} from './group.types.js';

@InputType({ description: 'Filters of a group list.' })
export class GroupFilterInput {
  @Field(() => ID, { nullable: true, description: 'Only groups of this directory.' })
  directoryId?: string;

  @Field(() => String, { nullable: true, description: 'Case-insensitive prefix of the group name.' })
  search?: string;
}

/**
 * The `GroupRow` properties each `Group` field's resolver reads, beyond the id and name a page
 * always reads: a groups page reads only the columns of the fields selected (a field missing
 * here: every column, see `rowKeysFor`). `directory-users.test.ts` checks each field alone.
 */
const GROUP_READS: Record<string, readonly (keyof GroupRow)[]> = {
  id: [],
  name: [],
  description: ['description'],
  builtIn: ['builtIn'],
  isBuiltIn: ['builtIn'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  directory: ['directoryId'],
  // Read by loaders or services from the group's id (the count in the page's statement).
  memberCount: [],
  members: [],
};

@Resolver(() => Group)
export class GroupResolver {
  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => GroupConnection, { description: "Groups of the tenant's directories, ordered by name." })
  groups(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
    @Arg('filter', () => GroupFilterInput, { nullable: true, description: 'Filters.' }) filter?: GroupFilterInput,
    @Info() info?: GraphQLResolveInfo,
  ): Promise<ConnectionShape<GroupRow>> {
    const fields = info ? nodesFields(info) : null;
    return ctx.services.groups.list(viewerOf(ctx), {
      first,
      after,
      memberCount: fields?.has('memberCount') ?? false,
      keys: fields ? rowKeysFor(fields, GROUP_READS) : undefined,
      filter: {
        search: filter?.search,
        directoryId: filter?.directoryId ? (fromGlobalId(filter.directoryId, 'Directory') ?? NO_MATCH) : undefined,
      },
    });
  }

  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => Group, { nullable: true, description: 'A group by id; null if it does not exist in this tenant.' })
  async group(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id of the group.' }) id: string) {
    const uuid = fromGlobalId(id, 'Group');
    return uuid ? ctx.loaders.groupById.load(uuid) : null;
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => GroupPayload, { description: 'Creates a group in a directory.' })
  createGroup(@Ctx() ctx: Context, @Arg('input', () => CreateGroupInput, { description: 'The new group.' }) input: CreateGroupInput) {
    return toPayload(async () => ({
      group: await ctx.services.groups.create(viewerOf(ctx), {
        ...input,
        directoryId: input.directoryId ? (fromGlobalId(input.directoryId, 'Directory') ?? NO_MATCH) : null,
      }),
    }));
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => GroupPayload, { description: 'Renames a group or changes its description.' })
  updateGroup(@Ctx() ctx: Context, @Arg('input', () => UpdateGroupInput, { description: 'The changes.' }) input: UpdateGroupInput) {
    return toPayload(async () => ({
      group: await ctx.services.groups.update(viewerOf(ctx), { ...input, id: fromGlobalId(input.id, 'Group') ?? NO_MATCH }),
    }));
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => DeleteGroupPayload, { description: 'Deletes a group (not its users).' })
  deleteGroup(@Ctx() ctx: Context, @Arg('input', () => DeleteGroupInput, { description: 'The group.' }) input: DeleteGroupInput) {
    return toPayload(async () => {
      const id = await ctx.services.groups.delete(viewerOf(ctx), fromGlobalId(input.id, 'Group') ?? NO_MATCH);
      return { deletedGroupId: toGlobalId('Group', id) };
    });
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => GroupPayload, { description: 'Adds users to a group; users already in it are fine.' })
  addGroupMembers(
    @Ctx() ctx: Context,
    @Arg('input', () => GroupMembersInput, { description: 'Group and users.' }) input: GroupMembersInput,
  ) {
    return toPayload(async () => ({
      group: await ctx.services.groups.addMembers(
        viewerOf(ctx),
        fromGlobalId(input.groupId, 'Group') ?? NO_MATCH,
        input.userIds.map((u) => fromGlobalId(u, 'User') ?? NO_MATCH),
      ),
    }));
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => GroupPayload, {
    description: 'Removes users from a group. Not allowed on Users; on Admins the last active admin cannot be removed.',
  })
  removeGroupMembers(
    @Ctx() ctx: Context,
    @Arg('input', () => GroupMembersInput, { description: 'Group and users.' }) input: GroupMembersInput,
  ) {
    return toPayload(async () => ({
      group: await ctx.services.groups.removeMembers(
        viewerOf(ctx),
        fromGlobalId(input.groupId, 'Group') ?? NO_MATCH,
        input.userIds.map((u) => fromGlobalId(u, 'User') ?? NO_MATCH),
      ),
    }));
  }

  @FieldResolver(() => ID)
  id(@Root() g: GroupRow): string {
    return toGlobalId('Group', g.id);
  }

  @FieldResolver(() => Boolean)
  isBuiltIn(@Root() g: GroupRow): boolean {
    return g.builtIn !== null;
  }

  @FieldResolver(() => Int)
  memberCount(@Root() g: GroupRow, @Ctx() ctx: Context): number | Promise<number> {
    return g.memberCount ?? ctx.loaders.groupMemberCount.load(g.id);
  }

  @FieldResolver(() => Directory, { description: 'The directory the group belongs to.' })
  async directory(@Root() g: GroupRow, @Ctx() ctx: Context): Promise<DirectoryRow> {
    const d = await ctx.loaders.directoryById.load(g.directoryId);
    if (!d) throw new Error('group without directory');
    return d;
  }

  @FieldResolver(() => UserConnection, { description: 'Members of the group, ordered by email.' })
  members(
    @Root() g: GroupRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
  ): Promise<ConnectionShape<UserRow>> {
    return ctx.services.groups.members(viewerOf(ctx), g.id, { first, after }, () => ctx.loaders.groupMemberCount.load(g.id));
  }
}
