import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { toPayload } from '../../shared/errors.js';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { fromGlobalId, toGlobalId } from '../../shared/ids.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import { CreateDirectoryInput, Directory, DirectoryConnection, DirectoryPayload, type DirectoryRow } from './directory.types.js';

@Resolver(() => Directory)
export class DirectoryResolver {
  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => DirectoryConnection, { description: "The tenant's directories, ordered by name." })
  directories(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
  ): Promise<ConnectionShape<DirectoryRow>> {
    return ctx.services.directories.list(viewerOf(ctx), { first, after });
  }

  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => Directory, { nullable: true, description: 'A directory by id; null if it does not exist in this tenant.' })
  async directory(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'Global id of the directory.' }) id: string,
  ): Promise<DirectoryRow | null> {
    const uuid = fromGlobalId(id, 'Directory');
    return uuid ? ctx.loaders.directoryById.load(uuid) : null;
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => DirectoryPayload, {
    description: 'Creates an external directory (ACTIVE_DIRECTORY or LDAP) with a built-in Users group.',
  })
  createDirectory(
    @Ctx() ctx: Context,
    @Arg('input', () => CreateDirectoryInput, { description: 'The new directory.' }) input: CreateDirectoryInput,
  ) {
    return toPayload(async () => ({ directory: await ctx.services.directories.create(viewerOf(ctx), input) }));
  }

  @FieldResolver(() => ID)
  id(@Root() d: DirectoryRow): string {
    return toGlobalId('Directory', d.id);
  }

  @FieldResolver(() => Int)
  userCount(@Root() d: DirectoryRow, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.directoryUserCount.load(d.id);
  }

  @FieldResolver(() => Int)
  groupCount(@Root() d: DirectoryRow, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.directoryGroupCount.load(d.id);
  }
}
