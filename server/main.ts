import 'reflect-metadata';
import { ConfigError, parseEnv, type Env } from './env.js';
import { startServer } from './app.js';
import { openDatabase } from './shared/db.js';
import { createLogger, type Logger } from './shared/logger.js';
import { installProcessNet } from './shared/process-net.js';
import { seedDemoTenant } from './seed.js';

/** Composition root: env → logger → database → services → HTTP/WS server → signals. */
async function main(): Promise<void> {
  let env: Env;
  try {
    env = parseEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(env.LOG_LEVEL);
  // A dropped database connection must not end the process: whatever escapes is logged.
  installProcessNet(log);
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR });
  log.info({ engine: database.engine, dataDir: env.DATABASE_URL ? undefined : env.DATA_DIR }, 'database ready');

  if (env.SEED_DEMO === 'true') await seedDemoTenant(database, log);

  const server = await startServer({ env, database, log });
  process.stdout.write(`Roster GraphQL API: ${server.url} (websocket ${server.wsUrl})\n`);

  installShutdown(log, env.SHUTDOWN_TIMEOUT_MS, async () => {
    await server.close();
    await database.close();
  });
}

function installShutdown(log: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  process.stderr.write(`Roster failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
