import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../shared/context.js';
import { viewerOf } from '../../shared/context.js';
import { fromGlobalId, toGlobalId } from '../../shared/ids.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import { Directory, type DirectoryRow } from '../directory/directory.types.js';
import { Group, type GroupRow } from '../group/group.types.js';
import { IdentityProvider, type IdentityProviderRow } from '../identity-provider/identity-provider.types.js';
import { User, UserConnection, UserOrder, UserStatus, type UserRow } from './user.types.js';
import type { UserFilter } from './user.store.js';

@InputType({ description: 'Filters of a user list; all given filters must match.' })
export class UserFilterInput {
  @Field(() => ID, { nullable: true, description: 'Only users of this directory.' })
  directoryId?: string;

  @Field(() => ID, { nullable: true, description: 'Only members of this group.' })
  groupId?: string;

  @Field(() => UserStatus, { nullable: true, description: 'Only users in this state.' })
  status?: UserStatus;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive prefix of the email, first name, last name or full name.',
  })
  search?: string;
}

/** A filter id that does not decode to this tenant's object matches nothing. */
const NO_MATCH = '00000000-0000-0000-0000-000000000000';

@Resolver(() => User)
export class UserResolver {
  @Query(() => UserConnection, { description: "Users of the tenant's directories, filtered and sorted." })
  users(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
    @Arg('filter', () => UserFilterInput, { nullable: true, description: 'Filters.' }) filter?: UserFilterInput,
    @Arg('orderBy', () => UserOrder, { nullable: true, description: 'Sort order (default EMAIL_ASC).' })
    orderBy?: UserOrder,
  ): Promise<ConnectionShape<UserRow>> {
    const f: UserFilter = { status: filter?.status, search: filter?.search };
    if (filter?.directoryId) f.directoryId = fromGlobalId(filter.directoryId, 'Directory') ?? NO_MATCH;
    if (filter?.groupId) f.groupId = fromGlobalId(filter.groupId, 'Group') ?? NO_MATCH;
    return ctx.services.users.list(viewerOf(ctx), { first, after, filter: f, orderBy });
  }

  @Query(() => User, { nullable: true, description: 'A user by id; null if it does not exist in this tenant.' })
  async user(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id of the user.' }) id: string) {
    const uuid = fromGlobalId(id, 'User');
    return uuid ? ctx.loaders.userById.load(uuid) : null;
  }

  @FieldResolver(() => ID)
  id(@Root() u: UserRow): string {
    return toGlobalId('User', u.id);
  }

  @FieldResolver(() => Directory, { description: 'The directory the user belongs to.' })
  async directory(@Root() u: UserRow, @Ctx() ctx: Context): Promise<DirectoryRow> {
    const d = await ctx.loaders.directoryById.load(u.directoryId);
    if (!d) throw new Error('user without directory');
    return d;
  }

  @FieldResolver(() => IdentityProvider, {
    nullable: true,
    description: 'The identity provider the user was invited to (its login portal).',
  })
  identityProvider(@Root() u: UserRow, @Ctx() ctx: Context): Promise<IdentityProviderRow | null> | null {
    return u.identityProviderId ? ctx.loaders.identityProviderById.load(u.identityProviderId) : null;
  }

  @FieldResolver(() => [Group], { description: 'Groups the user is a member of, including the built-in Users group.' })
  async groups(@Root() u: UserRow, @Ctx() ctx: Context): Promise<GroupRow[]> {
    const ids = await ctx.loaders.groupIdsByUser.load(u.id);
    const groups = await ctx.loaders.groupById.loadMany(ids);
    return groups
      .filter((g): g is GroupRow => !!g && !(g instanceof Error))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
