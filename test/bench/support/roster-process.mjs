// Roster in its own process for the load benchmarks: the compiled server (`npm run build`),
// configured by the environment like `npm start`, on a free port. It tells the parent its port
// over IPC and answers `{ type: 'statements' }` with the SQL statements it has issued, so the
// benchmark can print statements per request (counted in the database layer, not estimated).
import 'reflect-metadata';
import { parseEnv } from '../../../dist/server/env.js';
import { startServer } from '../../../dist/server/app.js';
import { openDatabase, statementsExecuted } from '../../../dist/server/shared/db.js';
import { createLogger } from '../../../dist/server/shared/logger.js';

const env = parseEnv({ ...process.env, PORT: '0', HOST: '127.0.0.1', SEED_DEMO: 'false' });
const log = createLogger(env.LOG_LEVEL);
const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR });
const server = await startServer({ env, database, log });
process.on('message', (m) => {
  if (m?.type === 'statements') process.send({ type: 'statements', count: statementsExecuted() });
});
process.on('SIGTERM', () => {
  server
    .close()
    .then(() => database.close())
    .finally(() => process.exit(0));
});
process.send({ type: 'ready', port: server.port, rss: process.memoryUsage().rss });
