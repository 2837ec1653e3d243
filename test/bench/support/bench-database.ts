import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../../server/shared/db.js';
import { createTestDatabase } from '../../support/harness.js';

/**
 * The database a load benchmark seeds in this process and then serves from server processes
 * (`startProcess`): the server is compiled first (the processes run `dist/`), the engine is
 * TEST_DATABASE_URL's PostgreSQL (a fresh database) or PGlite in a fresh DATA_DIR, closed after
 * seeding since PGlite's files can have one owner at a time. `dbEnv` points a process at it.
 */
export async function seededBenchDatabase<S>(seed: (database: Database, dataDir: string) => Promise<S>) {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  const test = process.env.TEST_DATABASE_URL ? await createTestDatabase() : null;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roster-bench-'));
  const database = test?.database ?? (await openDatabase({ dataDir }));
  const engine = database.engine;
  const seedStart = Date.now();
  const seeded = await seed(database, dataDir);
  const seedSeconds = (Date.now() - seedStart) / 1000;
  if (!test) await database.close();
  return {
    engine,
    seeded,
    seedSeconds,
    dataDir,
    /** The PostgreSQL URL, or null on PGlite. */
    url: test?.url ?? null,
    dbEnv: test?.url ? { DATABASE_URL: test.url } : { DATA_DIR: dataDir },
    async drop() {
      await test?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
