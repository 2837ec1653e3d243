import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { RosterGraphQLError, RosterSubscriptionError, RosterTransportError, type GraphQLErrorEntry } from './errors.js';
import { operationCatalogue, type OperationMethods } from './sdk.js';

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
  /**
   * Send only each operation's `documentId` (its hash in the persisted-documents manifest),
   * not its text: smaller requests, for servers run with `TRUSTED_DOCUMENTS_ONLY=true`. By
   * default both are sent, so any server works (one that knows the id runs its own copy).
   */
  trustedDocuments?: boolean;
}

/** The hash codegen embedded in a generated document (`sha256:<hex>`), if any. */
function documentIdOf(document: unknown): string | undefined {
  const hash = (document as { __meta__?: { hash?: unknown } } | null)?.__meta__?.hash;
  return typeof hash === 'string' ? hash : undefined;
}

type Variables<V> = V extends Record<string, never> ? [variables?: V] : [variables: V];

export interface RosterTransport {
  /** Runs a query or mutation over HTTP. Throws RosterGraphQLError / RosterTransportError. */
  request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: Variables<V>): Promise<R>;
  /**
   * Starts a subscription over graphql-ws. Iterate with `for await`; `break` (or `return()`)
   * unsubscribes. Errors (including a refused connection) are thrown from the iteration.
   */
  subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: Variables<V>): AsyncIterableIterator<R>;
  /** Closes the websocket, if one was opened. */
  close(): Promise<void>;
}

function toWsUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/** The transport under the typed methods: HTTP for queries and mutations, graphql-ws for subscriptions. */
export function createTransport(options: RosterClientOptions): RosterTransport {
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

  const operationBody = (document: unknown, variables: unknown) => {
    const documentId = documentIdOf(document);
    if (documentId && options.trustedDocuments) return { documentId, variables };
    return { query: print(document as DocumentNode), variables, ...(documentId ? { documentId } : {}) };
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
          body: JSON.stringify(operationBody(document, variables)),
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
      // graphql-ws requires a `query` string; the id travels in `extensions`.
      const documentId = documentIdOf(document);
      const query = documentId && options.trustedDocuments ? '' : print(document as DocumentNode);
      const iterator = wsClient().iterate({ query, variables, ...(documentId ? { extensions: { documentId } } : {}) });
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

/** `request`/`subscribe`, one typed method per API operation, and the CSV upload helpers. */
export type RosterClient = RosterTransport &
  OperationMethods & {
    /** Streams a CSV (path, Buffer, string or readable stream) to `POST /uploads`; returns its upload id. */
    uploadCsv(source: CsvSource, filename?: string): Promise<string>;
    /** Absolute URL of a server path such as a bulk operation's `resultsCsvPath`. */
    urlFor(path: string): string;
    /** GETs a server path with the session token (e.g. a results CSV) and returns its text. */
    download(path: string): Promise<string>;
  };

export type CsvSource = string | Uint8Array | NodeJS.ReadableStream | { path: string };

export function createRosterClient(options: RosterClientOptions): RosterClient {
  const transport = createTransport(options);
  const methods: Record<string, unknown> = {};
  for (const op of operationCatalogue()) {
    methods[op.method] =
      op.kind === 'subscription'
        ? (variables?: Record<string, unknown>) => (transport.subscribe as (d: unknown, v?: unknown) => unknown)(op.document, variables)
        : (variables?: Record<string, unknown>) => (transport.request as (d: unknown, v?: unknown) => unknown)(op.document, variables);
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  const token = async () => (options.getToken ? await options.getToken() : options.token) ?? undefined;
  const urlFor = (path: string) => new URL(path, options.url).toString();
  return {
    ...(methods as OperationMethods),
    request: transport.request,
    subscribe: transport.subscribe,
    close: transport.close,
    urlFor,
    async uploadCsv(source, filename) {
      const body = await readSource(source);
      const t = await token();
      const res = await doFetch(urlFor('/uploads'), {
        method: 'POST',
        headers: {
          'content-type': 'text/csv',
          ...(t ? { authorization: `Bearer ${t}` } : {}),
          ...(filename
            ? { 'x-filename': filename }
            : typeof source === 'object' && source && 'path' in source
              ? { 'x-filename': String(source.path).split(/[\\/]/).pop()! }
              : {}),
        },
        body: body as unknown as NonNullable<Parameters<typeof fetch>[1]>['body'],
      }).catch((err: unknown) => {
        throw new RosterTransportError(`Cannot reach ${options.url}: ${(err as Error).message}`, undefined, err);
      });
      const json = (await res.json().catch(() => null)) as { uploadId?: string; errors?: GraphQLErrorEntry[] } | null;
      if (!res.ok || !json?.uploadId) {
        if (json?.errors?.length) throw new RosterGraphQLError(json.errors, res.status);
        throw new RosterTransportError(`Upload failed (HTTP ${res.status})`, res.status);
      }
      return json.uploadId;
    },
    async download(path) {
      const t = await token();
      const res = await doFetch(urlFor(path), { headers: t ? { authorization: `Bearer ${t}` } : {} });
      if (!res.ok) {
        const json = (await res.json().catch(() => null)) as { errors?: GraphQLErrorEntry[] } | null;
        if (json?.errors?.length) throw new RosterGraphQLError(json.errors, res.status);
        throw new RosterTransportError(`Download failed (HTTP ${res.status})`, res.status);
      }
      return res.text();
    },
  } as RosterClient;
}

async function readSource(source: CsvSource): Promise<Uint8Array | string> {
  if (typeof source === 'string' || source instanceof Uint8Array) return source;
  if ('path' in source && typeof (source as { path: unknown }).path === 'string' && !('read' in source)) {
    const { readFile } = await import('node:fs/promises');
    return readFile((source as { path: string }).path);
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of source as AsyncIterable<Uint8Array | string>)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
