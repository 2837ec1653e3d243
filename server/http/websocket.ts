import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { ExecutionArgs, ExecutionResult, GraphQLError as GraphQLErrorType, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Context } from '../context.js';
import type { Loaders } from '../loaders.js';
import type { Services } from '../services.js';
import type { RequestClient } from '../shared/client.js';
import type { Logger } from '../shared/logger.js';
import type { Viewer } from '../shared/viewer.js';
import { authenticateToken, connectionToken, type Authentication } from './authenticate.js';
import { isSharedResult, sharedSubscribe } from './shared-execution.js';
import { tokenScopeRefusal } from './token-scopes.js';
import { preSerialisedNext, serveGraphqlWs } from './ws-transport.js';

/**
 * graphql-ws accepts errors from `onSubscribe` only if they are `instanceof` its own
 * GraphQLError. graphql has no `exports` map: Node (and so graphql-ws) loads its CommonJS
 * build, while vite, which runs the sources in tests, picks `index.mjs`. Taking the class
 * through `require` gives graphql-ws's class in both.
 */
const { GraphQLError } = createRequire(import.meta.url)('graphql') as { GraphQLError: typeof GraphQLErrorType };

/**
 * Pings every socket each `everyMs`; a socket whose pong to the previous ping has not arrived
 * is terminated — but only after two more turns of the event loop, each with its poll phase
 * (a `setImmediate` runs after the poll phase, one queued from it after the next), so a pong
 * delayed by this process's own stall still counts. One turn is not enough: work that
 * continues from timers through promises (a chunk of PGlite statements after a pause) can
 * keep the process in the timers phase, and the next tick then came right after the ping
 * with no read between them (measured: four ticks over 3 s without one turn). A client in
 * this process (tests, an in-process consumer) reads the ping in the first turn, and its
 * pong is read in the second. While a check is pending no new ping is sent, so the check is
 * about the ping it waits for. Proxies keep the connection because it is never idle for long.
 */
function keepAlive(wsServer: WebSocketServer, everyMs: number): void {
  wsServer.on('connection', (socket: WebSocket) => {
    let answered = true;
    let checking = false;
    socket.on('pong', () => {
      answered = true;
    });
    const timer = setInterval(() => {
      if (checking || socket.readyState !== socket.OPEN) return;
      if (answered) {
        answered = false;
        socket.ping();
        return;
      }
      checking = true;
      setImmediate(() =>
        setImmediate(() => {
          checking = false;
          if (!answered && socket.readyState === socket.OPEN) socket.terminate();
        }),
      );
    }, everyMs);
    timer.unref();
    socket.once('close', () => clearInterval(timer));
  });
}

/** graphql-ws's Forbidden: the client's sign that it must sign in again. */
export const SESSION_ENDED_CLOSE_CODE = 4403;

/** What a socket keeps besides graphql-ws's own `socket` and `request`. */
interface SocketState {
  [key: PropertyKey]: unknown;
  /** The token sent in `connection_init`: every operation and every re-check resolves it again. */
  token: string;
  /** The client address of the socket (recorded as an API token's last use). */
  address: string | null;
  /** The viewer of the latest successful check (a token always resolves to the same session). */
  viewer: Viewer;
  recheck: NodeJS.Timeout;
}

export interface WebsocketDeps {
  httpServer: http.Server;
  schema: GraphQLSchema;
  services: Services;
  createLoaders(tenantId: string | null): Loaders;
  log: Logger;
  /** How often an open socket re-checks its session (expiry, and any revocation it missed). */
  sessionRecheckMs: number;
  /** Ping interval; a socket that has not answered the previous ping is dropped. */
  keepAliveMs: number;
  /** The GraphQL error formatter of HTTP: errors in subscription results are masked and logged alike. */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
  /** The client (address, per-request credential-check budget) of an operation on this socket. */
  clientOf(request: http.IncomingMessage): RequestClient;
  /** Largest message accepted; a bigger one closes the socket (1009) before it is buffered. */
  maxPayload: number;
  /** The operation limits, after the session check: execution arguments, or the errors refusing it. */
  checkOperation(payload: SubscribePayload, running: number): ExecutionArgs | readonly GraphQLErrorType[];
}

export interface WebsocketServer {
  /** Closes every socket (1001) and stops listening for ended sessions; the drain step of shutdown. */
  dispose(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The sockets of this process by session and by user, so an ended session closes its sockets
 * at once, whichever replica ended it.
 */
class LiveSockets {
  private readonly bySession = new Map<string, Set<WebSocket>>();
  private readonly byUser = new Map<string, Set<WebSocket>>();

  private static userKey(tenantId: string, userId: string): string {
    return `${tenantId}:${userId}`;
  }

  add(socket: WebSocket, v: Viewer): void {
    for (const [map, key] of this.keys(v)) {
      let set = map.get(key);
      if (!set) map.set(key, (set = new Set()));
      set.add(socket);
    }
  }

  remove(socket: WebSocket, v: Viewer): void {
    for (const [map, key] of this.keys(v)) {
      const set = map.get(key);
      set?.delete(socket);
      if (set?.size === 0) map.delete(key);
    }
  }

  /** The local sockets of these sessions or users. */
  matching(e: { tenantId: string; sessionIds: readonly string[]; userIds: readonly string[] }): WebSocket[] {
    const found = new Set<WebSocket>();
    for (const id of e.sessionIds) for (const s of this.bySession.get(id) ?? []) found.add(s);
    for (const id of e.userIds) for (const s of this.byUser.get(LiveSockets.userKey(e.tenantId, id)) ?? []) found.add(s);
    return [...found];
  }

  private keys(v: Viewer): [Map<string, Set<WebSocket>>, string][] {
    // An API token is indexed like a session, by its id: revoking it announces that id.
    const keys: [Map<string, Set<WebSocket>>, string][] = [];
    const session = v.sessionId ?? v.apiToken?.id;
    if (session) keys.push([this.bySession, session]);
    if (v.userId) keys.push([this.byUser, LiveSockets.userKey(v.tenantId, v.userId)]);
    return keys;
  }
}

function endSocket(socket: WebSocket, problem: Authentication['problem']): void {
  if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
    socket.close(SESSION_ENDED_CLOSE_CODE, problem === 'expired' ? 'Session expired' : 'Session ended');
  }
}

/**
 * graphql-ws on the HTTP server's `/graphql`. The session is checked when the socket connects,
 * again before every operation (query, mutation or subscription), every `sessionRecheckMs`
 * while the socket is open, and whenever any replica announces that a session ended (logout,
 * removal from Admins, disabling, deletion, a new password): a socket whose session is no
 * longer valid is closed with 4403.
 */
export function startWebsocketServer(deps: WebsocketDeps): WebsocketServer {
  const { services, log } = deps;
  const live = new LiveSockets();

  const recheck = async (socket: WebSocket, state: Partial<SocketState>) => {
    try {
      const { viewer, problem } = await authenticateToken(services, state.token, state.address ?? null);
      if (!viewer) endSocket(socket, problem);
    } catch (err) {
      // A failed check (database unreachable) keeps the socket: its next operation checks again.
      log.warn({ err }, 'websocket session re-check failed');
    }
  };

  // Where the websocket server is built: its options (payload size, limits) go here.
  const wsServer = new WebSocketServer({ server: deps.httpServer, path: '/graphql', maxPayload: deps.maxPayload });
  /**
   * A subscription result's payload as graphql-ws sends it: errors masked and logged like over
   * HTTP (a database error's message names the statement and its values), and, as graphql-ws
   * does itself, `errors` last and absent when undefined.
   */
  const payloadOf = (result: ExecutionResult) => {
    const { errors, ...rest } = result;
    if (!errors) return rest;
    return errors.length ? { ...result, errors: errors.map((e) => deps.formatError(e.toJSON(), e)) } : { ...rest, errors: [] };
  };
  // The payload text of each shared result, produced for its first subscriber.
  const sharedJson = new WeakMap<ExecutionResult, string>();

  const wsCleanup = serveGraphqlWs<Record<string, unknown>, SocketState>(
    {
      schema: deps.schema,
      // Subscribers of one tenant following the same object with the same operation share each
      // event's execution (the result depends on the tenant and, for a token, its scopes).
      subscribe: sharedSubscribe((contextValue) => {
        const v = (contextValue as Context).viewer;
        if (!v) return null;
        return v.apiToken ? `${v.tenantId} token ${[...v.apiToken.scopes].sort().join(' ')}` : `${v.tenantId} session`;
      }),
      // connection_init: no valid session, no connection (close 4403).
      onConnect: async (ctx) => {
        const token = connectionToken(ctx.connectionParams);
        const address = deps.clientOf(ctx.extra.request).address;
        const { viewer } = await authenticateToken(services, token, address);
        const { socket } = ctx.extra;
        if (!viewer || !token || socket.readyState !== socket.OPEN) return false;
        const state = ctx.extra;
        state.token = token;
        state.address = address;
        state.viewer = viewer;
        live.add(socket, viewer);
        state.recheck = setInterval(() => void recheck(socket, state), deps.sessionRecheckMs);
        state.recheck.unref();
        return true;
      },
      onClose: (ctx) => {
        const { socket, viewer, recheck: timer } = ctx.extra;
        if (timer) clearInterval(timer);
        if (viewer) live.remove(socket, viewer);
      },
      // Every operation re-checks the session: an ended one is refused and its socket closed.
      onSubscribe: async (ctx, _id, payload) => {
        const { viewer, problem } = await authenticateToken(services, ctx.extra.token, ctx.extra.address ?? null);
        if (!viewer) {
          // After graphql-ws has sent this operation's error, close the socket.
          setImmediate(() => endSocket(ctx.extra.socket, problem));
          return [
            new GraphQLError(
              problem === 'expired' ? 'Your session has expired. Sign in again.' : 'Your session has ended. Sign in again.',
              {
                extensions: { code: 'UNAUTHENTICATED' },
              },
            ),
          ];
        }
        ctx.extra.viewer = viewer;
        const args = deps.checkOperation(payload, Object.keys(ctx.subscriptions).length);
        // An API token may run only the root fields its scopes allow (admin sessions: all).
        const refused = 'document' in args ? tokenScopeRefusal(args.schema, args.document, args.operationName, viewer) : null;
        return refused ? [new GraphQLError(refused.message, { extensions: refused.extensions })] : args;
      },
      context: (ctx) => {
        const requestId = randomUUID();
        const viewer = ctx.extra.viewer ? { ...ctx.extra.viewer, request: { id: requestId, address: ctx.extra.address ?? null } } : null;
        return {
          requestId,
          log: log.child({ requestId, transport: 'ws' }),
          viewer,
          authProblem: null,
          client: deps.clientOf(ctx.extra.request),
          services,
          loaders: deps.createLoaders(viewer?.tenantId ?? null),
          loadersFor: deps.createLoaders,
        } satisfies Context;
      },
      onNext: (ctx, id, _payload, _args, result) => {
        // A result shared by many subscribers is serialised once (and its errors formatted and
        // logged once); each socket's frame is then that text with its own subscription id.
        if (isSharedResult(result)) {
          let json = sharedJson.get(result);
          if (json === undefined) sharedJson.set(result, (json = JSON.stringify(payloadOf(result))));
          return preSerialisedNext(ctx.extra, id, json);
        }
        if (!result.errors?.length) return;
        return payloadOf(result);
      },
      onError: (_ctx, _id, _payload, errors) => {
        log.warn({ errors: errors.map((e) => e.message) }, 'subscription error');
      },
    },
    wsServer,
    log,
  );
  // graphql-ws's own keep-alive (of its `use/ws` adapter) terminated a socket whose pong had not
  // arrived 12 s after the ping, from a timer — and after this process was busy (a PGlite job on
  // the one thread, a long GC), timers run before the socket reads that hold the pong, so live
  // clients were cut (1006) mid-subscription. `keepAlive` checks after pending I/O instead.
  keepAlive(wsServer, deps.keepAliveMs);

  // Sessions ended on any replica (after their commit) close this process's sockets on them.
  const stop = new AbortController();
  void (async () => {
    try {
      for await (const ended of services.auth.endedSessions(stop.signal)) {
        for (const socket of live.matching(ended)) endSocket(socket, 'invalid');
      }
    } catch (err) {
      if (!stop.signal.aborted) log.error({ err }, 'listening for ended sessions failed; sockets rely on their re-checks');
    }
  })();

  return {
    async dispose() {
      stop.abort();
      await wsCleanup.dispose();
    },
    close: () => new Promise<void>((resolve) => wsServer.close(() => resolve())),
  };
}
