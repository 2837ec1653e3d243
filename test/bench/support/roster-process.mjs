// Roster in its own process for the load benchmarks: the compiled server (`npm run build`),
// configured by the environment like `npm start`, on a free port. It tells the parent its port
// over IPC and answers `{ type: 'statements' }` with the SQL statements it has issued, so the
// benchmark can print statements per request (counted in the database layer, not estimated).
//
// Two switches for the subscribers benchmark, read here only (the server knows nothing of them):
// - BENCH_HOLD_JOBS=true: the job queue starts claiming jobs only when the parent sends
//   `{ type: 'startJobs' }`, so a sync run can be created (QUEUED) and subscribed to by every
//   client before it starts.
// - BENCH_RECORD_EVENTS=<kind>: every event of that kind this process publishes is recorded
//   with the time it was handed to the bus (Date.now(), the host's clock, the same the client
//   processes read); `{ type: 'published' }` answers with them.
import 'reflect-metadata';
import { getHeapStatistics } from 'node:v8';
import { parseEnv } from '../../../dist/server/env.js';
import { startServer } from '../../../dist/server/app.js';
import { openDatabase, statementsExecuted } from '../../../dist/server/shared/db.js';
import { JobQueue } from '../../../dist/server/shared/jobs/queue.js';
import { createLogger } from '../../../dist/server/shared/logger.js';
import { createPubSub } from '../../../dist/server/shared/pubsub.js';

const env = parseEnv({ ...process.env, PORT: '0', HOST: '127.0.0.1', SEED_DEMO: 'false' });
const log = createLogger(env.LOG_LEVEL);
const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR });

const held = [];
if (process.env.BENCH_HOLD_JOBS === 'true') {
  const start = JobQueue.prototype.start;
  JobQueue.prototype.start = function () {
    held.push(() => start.call(this));
    return Promise.resolve();
  };
}
const pubsub = await createPubSub(database);
const published = [];
const recordKind = process.env.BENCH_RECORD_EVENTS;
if (recordKind) {
  const publish = pubsub.publish.bind(pubsub);
  pubsub.publish = (kind, id, payload) => {
    if (kind === recordKind) published.push({ at: Date.now(), id, payload });
    return publish(kind, id, payload);
  };
}

const server = await startServer({ env, database, log, pubsub });
process.on('message', (m) => {
  if (m?.type === 'statements') process.send({ type: 'statements', count: statementsExecuted() });
  if (m?.type === 'startJobs') {
    const at = Date.now();
    Promise.all(held.splice(0).map((f) => f())).then(() => process.send({ type: 'startJobs', at }));
  }
  if (m?.type === 'published') process.send({ type: 'published', events: published.filter((e) => !m.id || e.id === m.id) });
});
process.on('SIGTERM', () => {
  server
    .close()
    .then(() => database.close())
    .finally(() => process.exit(0));
});
// The JS heap's limit (npm start's --max-old-space-size), so a benchmark can print what it ran with.
process.send({
  type: 'ready',
  port: server.port,
  rss: process.memoryUsage().rss,
  heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
});
