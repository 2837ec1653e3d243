import { and, asc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import { directories, groups, users } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import type { DirectoryRow } from './directory.types.js';
import { fixedQuery } from '../../shared/prepared.js';
import { uuidArrayLiteral } from '../../shared/sql.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';

/** One text for any number of ids (an array parameter): built once, prepared on PostgreSQL. */
const directoriesByIdsQuery = fixedQuery((db) =>
  db
    .select()
    .from(directories)
    .where(and(eq(directories.tenantId, sql.placeholder('tenantId')), sql`${directories.id} = any(${sql.placeholder('ids')}::uuid[])`)),
);

export class DirectoryStore {
  constructor(private readonly db: Db) {}

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<DirectoryRow[]> {
    if (!ids.length) return [];
    return directoriesByIdsQuery(tx, { tenantId, ids: uuidArrayLiteral(ids) });
  }

  async cloud(tenantId: string, tx: Executor = this.db): Promise<DirectoryRow> {
    const [row] = await tx
      .select()
      .from(directories)
      .where(and(eq(directories.tenantId, tenantId), eq(directories.kind, 'CLOUD')));
    if (!row) throw new Error(`tenant ${tenantId} has no cloud directory`);
    return row;
  }

  /** Keyset page ordered by (lower(name), id). */
  async page(tenantId: string, limit: number, after: { name: string; id: string } | null, tx: Executor = this.db): Promise<DirectoryRow[]> {
    const key = sql`lower(${directories.name})`;
    return tx
      .select()
      .from(directories)
      .where(
        and(
          eq(directories.tenantId, tenantId),
          after ? or(gt(key, after.name), and(eq(key, after.name), gt(directories.id, after.id))) : undefined,
        ),
      )
      .orderBy(asc(key), asc(directories.id))
      .limit(limit);
  }

  async count(tenantId: string, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(directories)
      .where(eq(directories.tenantId, tenantId));
    return r?.n ?? 0;
  }

  /** User counts for many directories in one GROUP BY. */
  async userCounts(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<Map<string, number>> {
    if (!ids.length) return new Map();
    const rows = await tx
      .select({ id: users.directoryId, n: sql<number>`count(*)::int` })
      .from(users)
      .where(and(eq(users.tenantId, tenantId), inArray(users.directoryId, [...ids])))
      .groupBy(users.directoryId);
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  async groupCounts(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<Map<string, number>> {
    if (!ids.length) return new Map();
    const rows = await tx
      .select({ id: groups.directoryId, n: sql<number>`count(*)::int` })
      .from(groups)
      .where(and(eq(groups.tenantId, tenantId), inArray(groups.directoryId, [...ids])))
      .groupBy(groups.directoryId);
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  /** The directory and its built-in Users group, in the caller's transaction. */
  async insertWithUsersGroup(
    row: { tenantId: string; name: string; kind: string; description: string | null },
    tx: Executor,
  ): Promise<DirectoryRow> {
    try {
      const [d] = await tx.insert(directories).values(row).returning();
      await tx.insert(groups).values({
        tenantId: row.tenantId,
        directoryId: d!.id,
        name: 'Users',
        builtIn: 'USERS',
        description: 'Every user of the directory.',
      });
      return d!;
    } catch (err) {
      if (pgErrorInfo(err).constraint === 'uniq_directories_tenant_name') {
        throw DomainError.of(ErrorCode.NAME_TAKEN, 'A directory with this name already exists.', ['input', 'name']);
      }
      throw err;
    }
  }
}
