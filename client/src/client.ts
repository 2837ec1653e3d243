import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { RosterGraphQLError, RosterSubscriptionError, RosterTransportError, type GraphQLErrorEntry } from './errors.js';

export interface RosterClientOptions {
  /** The GraphQL endpoint, e.g. `http://localhost:4000/graphql`. */
  url: string;
  /** A session token from `login`. */
  token?: string | null;
  /** Called before each request and websocket connection; wins over `token`. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
  /** A WebSocket implementation for runtimes without a global one (Node 20: pass `ws`). */
  webSocketImpl?: unknown;
  /** Extra headers for every HTTP request. */
  headers?: Record<string, string>;
}

type Variables<V> = V extends Record<string, never> ? [variables?: V] : [variables: V];

export interface RosterClient {
  /** Runs a query or mutation over HTTP. Throws RosterGraphQLError / RosterTransportError. */
  request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: Variables<V>): Promise<R>;
  /**
   * Starts a subscription over graphql-ws. Iterate with `for await`; `break` (or `return()`)
   * unsubscribes. Errors (including a refused connection) are thrown from the iteration.
   */
  subscribe<R, V extends Record<string, unknown>>(
    document: TypedDocumentNode<R, V>,
    ...variables: Variables<V>
  ): AsyncIterableIterator<R>;
  /** Closes the websocket, if one was opened. */
  close(): Promise<void>;
}

function toWsUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

export function createRosterClient(options: RosterClientOptions): RosterClient {
  const doFetch = options.fetch ?? globalThis.fetch;
  const token = async () => (options.getToken ? await options.getToken() : options.token) ?? undefined;
  let ws: WsClient | null = null;

  const wsClient = (): WsClient => {
    ws ??= createClient({
      url: toWsUrl(options.url),
      webSocketImpl: options.webSocketImpl,
      lazy: true,
      retryAttempts: 0,
      connectionParams: async () => {
        const t = await token();
        return t ? { token: t } : {};
      },
    });
    return ws;
  };

  return {
    async request(document, ...rest) {
      const variables = rest[0];
      const t = await token();
      let res: Response;
      try {
        res = await doFetch(options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            ...(t ? { authorization: `Bearer ${t}` } : {}),
            ...options.headers,
          },
          body: JSON.stringify({ query: print(document as DocumentNode), variables }),
        });
      } catch (err) {
        throw new RosterTransportError(`Cannot reach ${options.url}: ${(err as Error).message}`, undefined, err);
      }
      let body: { data?: unknown; errors?: GraphQLErrorEntry[] };
      try {
        body = (await res.json()) as typeof body;
      } catch (err) {
        throw new RosterTransportError(`Non-JSON response (HTTP ${res.status}) from ${options.url}`, res.status, err);
      }
      if (body.errors?.length) throw new RosterGraphQLError(body.errors, res.status);
      if (body.data === undefined || body.data === null) {
        throw new RosterTransportError(`Empty response (HTTP ${res.status})`, res.status);
      }
      return body.data as never;
    },

    subscribe(document, ...rest) {
      const variables = rest[0] as Record<string, unknown> | undefined;
      const iterator = wsClient().iterate({ query: print(document as DocumentNode), variables });
      const wrap = async function* () {
        try {
          for await (const result of iterator) {
            if (result.errors?.length) throw new RosterGraphQLError(result.errors as GraphQLErrorEntry[]);
            yield result.data as never;
          }
        } catch (err) {
          throw toSubscriptionError(err);
        } finally {
          await iterator.return?.();
        }
      };
      return wrap();
    },

    async close() {
      await ws?.dispose();
      ws = null;
    },
  };
}

function toSubscriptionError(err: unknown): Error {
  if (err instanceof RosterGraphQLError || err instanceof RosterSubscriptionError) return err;
  // graphql-ws rejects with the CloseEvent when the server closes the socket.
  const close = err as { code?: number; reason?: string };
  if (typeof close?.code === 'number') {
    return new RosterSubscriptionError(close.reason || `websocket closed (${close.code})`, close.code);
  }
  if (Array.isArray(err)) return new RosterGraphQLError(err as GraphQLErrorEntry[]);
  if (err instanceof Error) return new RosterTransportError(err.message, undefined, err);
  return new RosterTransportError(String(err));
}
