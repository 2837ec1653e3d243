import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { packageRoot } from '../shared/package-root.js';

/**
 * Persisted ("trusted") documents: the typed client's operations are hashed at codegen time
 * (`client/src/generated/persisted-documents.json`, `sha256:<hex>` → document text) and the
 * client sends each operation's hash as `documentId`. With `TRUSTED_DOCUMENTS_ONLY=true` the
 * server runs nothing else: an arbitrary document is refused before it is parsed, so an
 * attacker cannot probe the schema or craft expensive queries, only call the operations the
 * product ships. Without the setting a known `documentId` is honoured too (and an unknown
 * one with its `query` falls back to the text, so a newer client still works).
 */
export interface TrustedDocuments {
  /** Only manifest documents run. */
  readonly only: boolean;
  /** How many documents the manifest holds. */
  readonly size: number;
  /**
   * The document text a request runs: the manifest's for a known `documentId` (any `query`
   * sent with it is ignored), else its own `query` when allowed; or the refusal to answer.
   */
  resolve(payload: unknown): { query: string } | { refusal: TrustedDocumentRefusal } | { query: undefined };
}

export interface TrustedDocumentRefusal {
  message: string;
  code: 'TRUSTED_DOCUMENT_REQUIRED' | 'UNKNOWN_DOCUMENT_ID';
}

/** The client package's manifest, relative to the project root. */
export const DEFAULT_MANIFEST = 'client/src/generated/persisted-documents.json';

/** `documentId` at the top of the payload (GraphQL over HTTP's persisted documents), or in `extensions` (graphql-ws allows only known keys at the top). */
function documentIdOf(payload: unknown): unknown {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as { documentId?: unknown; extensions?: { documentId?: unknown } | null };
  return p.documentId ?? (p.extensions && typeof p.extensions === 'object' ? p.extensions.documentId : undefined);
}

export function loadTrustedDocuments(opts: { only: boolean; manifest?: string }): TrustedDocuments {
  const file = path.resolve(packageRoot(), opts.manifest ?? DEFAULT_MANIFEST);
  let entries: Record<string, unknown>;
  try {
    entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    // Trusted-only without its list would refuse everything: stop at start-up instead.
    if (opts.only) throw new Error(`TRUSTED_DOCUMENTS_ONLY needs the manifest ${file}: ${(err as Error).message}`);
    entries = {};
  }
  const documents = new Map(Object.entries(entries).filter((e): e is [string, string] => typeof e[1] === 'string'));
  if (opts.only && documents.size === 0) throw new Error(`TRUSTED_DOCUMENTS_ONLY: the manifest ${file} holds no documents.`);
  return {
    only: opts.only,
    size: documents.size,
    resolve(payload) {
      const id = documentIdOf(payload);
      const query = payload && typeof payload === 'object' ? (payload as { query?: unknown }).query : undefined;
      if (typeof id === 'string' && id !== '') {
        const known = documents.get(id);
        if (known !== undefined) return { query: known };
        if (opts.only || typeof query !== 'string' || query === '')
          return {
            refusal: {
              message: `No trusted document has the id ${JSON.stringify(id.slice(0, 80))}: this server runs only the operations of its client's manifest.`,
              code: 'UNKNOWN_DOCUMENT_ID',
            },
          };
        return { query };
      }
      if (opts.only)
        return {
          refusal: {
            message:
              'This server runs only trusted documents: send the operation’s `documentId` from the client’s persisted-documents manifest instead of its text.',
            code: 'TRUSTED_DOCUMENT_REQUIRED',
          },
        };
      return { query: typeof query === 'string' ? query : undefined };
    },
  };
}

/**
 * `/graphql` over HTTP: puts the trusted text in place of `query` (POST body; GET search
 * parameters, which Apollo reads from the URL) before Apollo parses anything, or answers the
 * refusal as a request error (400, GraphQL's error shape).
 */
export function trustedDocumentsMiddleware(trusted: TrustedDocuments): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'POST') {
      const body = req.body as unknown;
      // A batch or a non-object is Apollo's to refuse; in trusted-only mode it is ours.
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        if (!trusted.only) return next();
        return refuse(res, { code: 'TRUSTED_DOCUMENT_REQUIRED', message: 'This server runs only trusted documents, one per request.' });
      }
      const r = trusted.resolve(body);
      if ('refusal' in r) return refuse(res, r.refusal);
      if (r.query !== undefined) (body as { query?: string }).query = r.query;
      delete (body as { documentId?: unknown }).documentId;
      return next();
    }
    if (req.method === 'GET') {
      const url = new URL(req.originalUrl, 'http://x');
      const params = Object.fromEntries(url.searchParams);
      const r = trusted.resolve(params);
      if ('refusal' in r) return refuse(res, r.refusal);
      if (r.query !== undefined && url.searchParams.has('documentId')) {
        url.searchParams.set('query', r.query);
        url.searchParams.delete('documentId');
        req.url = `${req.url.split('?')[0]}?${url.searchParams.toString()}`;
      }
      return next();
    }
    next();
  };
}

function refuse(res: Response, refusal: TrustedDocumentRefusal): void {
  res.status(400).json({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
}
