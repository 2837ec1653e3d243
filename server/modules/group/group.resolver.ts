import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../shared/context.js';
import { viewerOf } from '../../shared/context.js';
import { fromGlobalId, toGlobalId } from '../../shared/ids.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import { Directory, type DirectoryRow } from '../directory/directory.types.js';
import { UserConnection, type UserRow } from '../user/user.types.js';
import { Group, GroupConnection, type GroupRow } from './group.types.js';

@InputType({ description: 'Filters of a group list.' })
export class GroupFilterInput {
  @Field(() => ID, { nullable: true, description: 'Only groups of this directory.' })
  directoryId?: string;

  @Field(() => String, { nullable: true, description: 'Case-insensitive prefix of the group name.' })
  search?: string;
}

const NO_MATCH = '00000000-0000-0000-0000-000000000000';

@Resolver(() => Group)
export class GroupResolver {
  @Query(() => GroupConnection, { description: "Groups of the tenant's directories, ordered by name." })
  groups(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
    @Arg('filter', () => GroupFilterInput, { nullable: true, description: 'Filters.' }) filter?: GroupFilterInput,
  ): Promise<ConnectionShape<GroupRow>> {
    return ctx.services.groups.list(viewerOf(ctx), {
      first,
      after,
      filter: {
        search: filter?.search,
        directoryId: filter?.directoryId ? (fromGlobalId(filter.directoryId, 'Directory') ?? NO_MATCH) : undefined,
      },
    });
  }

  @Query(() => Group, { nullable: true, description: 'A group by id; null if it does not exist in this tenant.' })
  async group(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id of the group.' }) id: string) {
    const uuid = fromGlobalId(id, 'Group');
    return uuid ? ctx.loaders.groupById.load(uuid) : null;
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
  memberCount(@Root() g: GroupRow, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.groupMemberCount.load(g.id);
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
