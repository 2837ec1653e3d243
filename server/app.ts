import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Env } from './env.js';
import { getSchema } from './schema.js';
import { createServices, type Services } from './services.js';
import type { Context } from './context.js';
import { authenticateHeader } from './http/authenticate.js';
import { graphqlBodyParser } from './http/body-limit.js';
import { upgradeClientAddress } from './http/client-address.js';
import { checkWebSocketOperation, operationLimitsFor, operationLimitsPlugin, withoutSuggestions } from './http/operation-limits.js';
import { tokenScopesPlugin } from './http/token-scopes.js';
import { applicationJsonStatusPlugin } from './http/json-status.js';
import { startWebsocketServer } from './http/websocket.js';
import { loadTrustedDocuments, trustedDocumentsMiddleware } from './http/trusted-documents.js';
import { newRequestClient } from './shared/client.js';
import { countStatements, currentStatementTally, type Database } from './shared/db.js';
import { PUBLIC_ERROR_CODES } from './shared/errors.js';
import type { Logger } from './shared/logger.js';
import { RequestActivity } from './shared/request-activity.js';
import { createPubSub, type PubSub } from './shared/pubsub.js';
import { JobQueue } from './shared/jobs/queue.js';
import { auditRoutes } from './modules/audit/audit.routes.js';
import { bulkRoutes } from './modules/bulk-operation/bulk-operation.routes.js';
import { explorerRoutes } from './http/explorer.js';
import { portalRoutes } from './http/portal/portal.routes.js';
import { scimRoutes } from './http/scim/scim.routes.js';

/** A readiness probe answers within this budget: a database that does not is not ready. */
const READY_PING_TIMEOUT_MS = 2000;

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  env: Env;
  services: Services;
  /** One pass of the background scheduler now (due syncs, orphaned runs, staging clean-up). */
  tickScheduler(): Promise<void>;
  /** Graceful: stop accepting, drain requests, close sockets. Does not close the database. */
  close(): Promise<void>;
}

/** Keeps codes a client can act on; masks everything else and logs the original. */
export function formatErrorFor(log: Logger, opts: { hideSuggestions?: boolean } = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.['code'];
    if (typeof code === 'string' && PUBLIC_ERROR_CODES.has(code)) {
      const { stacktrace: _s, exception: _e, ...ext } = (formatted.extensions ?? {}) as Record<string, unknown>;
      const message = opts.hideSuggestions ? withoutSuggestions(formatted.message) : formatted.message;
      return { ...formatted, message, extensions: ext };
    }
    log.error({ err: unwrapResolverError(error), path: formatted.path }, 'unexpected error in GraphQL operation');
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

export async function startServer(opts: { env: Env; database: Database; log: Logger; pubsub?: PubSub }): Promise<RunningServer> {
  const { env, database, log } = opts;
  const pubsub = opts.pubsub ?? (await createPubSub(database));
  const jobs = new JobQueue(database, log.child({ component: 'jobs' }), { pollMs: env.JOB_POLL_MS, leaseMs: env.JOB_LEASE_MS });
  // Until listen() the port may be unknown (PORT=0): links are built lazily from the real one.
  let listeningPort = env.PORT;
  const publicHost = env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST;
  const portalBaseUrl = () => env.PORTAL_BASE_URL ?? `http://${publicHost}:${listeningPort}/portal`;
  const requests = new RequestActivity();
  const composition = createServices({ env, database, log, pubsub, jobs, portalBaseUrl, requests });
  const { services } = composition;
  let housekeeping: NodeJS.Timeout | null = null;
  if (env.WORKERS === 'true') {
    await jobs.start();
    composition.startWorkers();
    // Hourly, on every replica (the deletes are idempotent): expired sessions, old finished jobs,
    // and CSV uploads (they hold passwords, sealed) no longer needed.
    housekeeping = setInterval(() => {
      composition.housekeeping().catch((err: unknown) => log.warn({ err }, 'housekeeping failed'));
    }, 3600_000);
    housekeeping.unref();
  }
  const schema = await getSchema();
  const limits = operationLimitsFor(env, database.engine);
  const formatError = formatErrorFor(log, { hideSuggestions: limits.hideSuggestions });
  const trusted = loadTrustedDocuments({ only: env.TRUSTED_DOCUMENTS_ONLY === 'true', manifest: env.TRUSTED_DOCUMENTS_MANIFEST });
  let shuttingDown = false;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', env.trustProxy);
  const httpServer = http.createServer(app);
  httpServer.on('request', (_request, response) => requests.track(response));
  // Longer than typical load-balancer idle timeouts (60 s), so the proxy, not us, closes idle
  // keep-alive sockets; closing first races with a request already on the wire (ECONNRESET).
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;

  const ws = startWebsocketServer({
    httpServer,
    schema,
    services,
    createLoaders: composition.createLoaders,
    log,
    sessionRecheckMs: env.WS_SESSION_RECHECK_MS,
    keepAliveMs: env.WS_KEEPALIVE_MS,
    formatError,
    // Sign-in limits count per client address: the websocket's, under the same proxy rule as HTTP.
    clientOf: (request) => newRequestClient(upgradeClientAddress(app, request)),
    // A bigger message closes the socket (1009) before it is buffered, signed in or not.
    maxPayload: env.WS_MAX_PAYLOAD_BYTES,
    // Token limit, validation and operation limits, as over HTTP; at most WS_MAX_SUBSCRIPTIONS at once.
    // Trusted documents first: a refused document is not even parsed.
    checkOperation: (payload, running) => {
      const doc = trusted.resolve(payload);
      if ('refusal' in doc) return [new GraphQLError(doc.refusal.message, { extensions: { code: doc.refusal.code } })];
      return checkWebSocketOperation(schema, { ...payload, query: doc.query }, running, {
        ...limits,
        maxOperationsPerSocket: env.WS_MAX_SUBSCRIPTIONS,
      });
    },
  });

  const requestLogger: ApolloServerPlugin<Context> = {
    async requestDidStart({ contextValue, request }) {
      const started = Date.now();
      return {
        async willSendResponse({ errors }) {
          contextValue.log.info(
            {
              operation: request.operationName ?? null,
              ms: Date.now() - started,
              errors: errors?.length ?? 0,
              statements: currentStatementTally()?.count ?? null,
            },
            'graphql operation',
          );
        },
      };
    },
  };

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: env.introspection,
    includeStacktraceInErrorResponses: false,
    // main.ts owns shutdown order (HTTP, sockets, jobs, database); Apollo's own signal
    // handlers would race it and leave the process hanging.
    stopOnTerminationSignals: false,
    formatError,
    hideSchemaDetailsFromClientErrors: limits.hideSuggestions,
    parseOptions: { maxTokens: limits.maxTokens },
    // Apollo pretty-prints every response by default (JSON.stringify(value, null, 2)): more
    // bytes and more CPU for every page, read only by programs.
    stringifyResult: (value) => JSON.stringify(value),
    plugins: [
      // No cache hints are used (no @cacheControl, no CDN): without this Apollo's default cache
      // control plugin runs a hook for every resolved field of every operation.
      ApolloServerPluginCacheControlDisabled(),
      operationLimitsPlugin<Context>(limits),
      tokenScopesPlugin<Context>(),
      applicationJsonStatusPlugin<Context>(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      requestLogger,
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await ws.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  app.use((req, res, next) => {
    const incoming = req.header('x-request-id');
    const id = incoming && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    res.locals['requestId'] = id;
    res.setHeader('x-request-id', id);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (shuttingDown) {
      res.status(503).json({ status: 'shutting-down' });
      return;
    }
    // Every check is a fresh round trip on the pool, so readiness follows the database both
    // ways: 503 while it is away (or slower than the probe's budget), ready again once the
    // driver's reconnect succeeds, with nothing to reset.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        database.ping(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('database ping timed out')), READY_PING_TIMEOUT_MS);
        }),
      ]);
      res.json({ status: 'ready', database: database.engine });
    } catch (err) {
      log.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', database: database.engine });
    } finally {
      clearTimeout(timer);
    }
  });

  app.use(bulkRoutes(services));
  app.use(auditRoutes(services));
  app.use('/portal', portalRoutes(services, log.child({ component: 'portal' })));
  // GraphiQL for browsers (Accept: text/html); every other GET /graphql goes on to Apollo.
  if (env.explorer) app.use('/graphql', explorerRoutes());
  app.use(scimRoutes(services, log.child({ component: 'scim' })));

  app.use(
    '/graphql',
    // 1 MB, or 8 MB for a signed-in bulk id-list mutation (100,000 ids); CSV files go to /uploads.
    graphqlBodyParser({
      isSignedIn: async (req) => (await authenticateHeader(services, req.header('authorization'), req.ip)).viewer !== null,
      maxTokens: limits.maxTokens,
      queryOf: (body) => {
        const doc = trusted.resolve(body);
        return 'query' in doc ? doc.query : undefined;
      },
    }),
    trustedDocumentsMiddleware(trusted),
    // Each request's SQL statements (the session check included) are counted in its own scope
    // and logged with the operation. Entered after the body is read: stream events would not
    // carry the scope.
    (_req: Request, _res: Response, next: NextFunction) => countStatements({ count: 0 }, next),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<Context> => {
        const requestId = String(res.locals['requestId']);
        const { viewer, problem } = await authenticateHeader(services, req.header('authorization'), req.ip);
        return {
          requestId,
          log: log.child({ requestId }),
          // The request id and address travel with the viewer down to the services (audit trail).
          viewer: viewer && { ...viewer, request: { id: requestId, address: req.ip ?? null } },
          authProblem: problem,
          client: newRequestClient(req.ip),
          services,
          loaders: composition.createLoaders(viewer?.tenantId ?? null),
          loadersFor: composition.createLoaders,
        };
      },
    }),
  );

  // Body-parser failures (malformed JSON, too large) answer in GraphQL's error shape, never HTML.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; statusCode?: number };
    const status = e.status ?? e.statusCode ?? 500;
    if (status >= 500) log.error({ err }, 'unhandled HTTP error');
    const message =
      e.type === 'entity.parse.failed'
        ? 'Malformed JSON body.'
        : e.type === 'entity.too.large'
          ? 'Request body too large.'
          : status < 500
            ? 'Bad request.'
            : 'Internal server error';
    res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR' } }] });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(env.PORT, env.HOST, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  listeningPort = port;
  const host = publicHost;
  log.info({ port, database: database.engine }, 'roster listening');

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}/graphql`,
    wsUrl: `ws://${host}:${port}/graphql`,
    port,
    env,
    services,
    tickScheduler: () => composition.tickScheduler(),
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        // apollo.stop() runs the drain plugins: HTTP server stops accepting and drains, sockets close.
        await apollo.stop();
        await ws.close();
        // Running jobs stop at their next safe point; their leases lapse and any replica resumes them.
        composition.stopWorkers();
        if (housekeeping) clearInterval(housekeeping);
        await jobs.stop();
        composition.closeConnections();
        await pubsub.close();
      })();
      return closing;
    },
  };
}
