import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { getOperationAST, Kind, parse } from 'graphql';

/** An ordinary GraphQL request body. */
export const BODY_LIMIT = 1024 * 1024;
/** A bulk id-list mutation (up to 100,000 global ids, ~6 MB of JSON). */
export const BULK_BODY_LIMIT = 8 * 1024 * 1024;
/** The mutations that take up to 100,000 ids in their input, and may therefore send up to `BULK_BODY_LIMIT`. */
export const BULK_ID_LIST_MUTATIONS: ReadonlySet<string> = new Set(['bulkDeleteUsers', 'bulkReinviteUsers', 'bulkAddUsersToGroups']);

const BODY_BYTES = Symbol('bodyBytes');
const mb = (bytes: number) => `${bytes / (1024 * 1024)} MB`;

function tooLarge(res: Response, message: string) {
  res.status(413).json({ errors: [{ message, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
}

/** Whether a parsed body is exactly one mutation whose root fields are all bulk id-list mutations. */
export function isBulkIdListMutation(
  body: unknown,
  maxTokens: number,
  queryOf: (body: object) => unknown = (b) => (b as { query?: unknown }).query,
): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const { operationName } = body as { operationName?: unknown };
  const query = queryOf(body);
  if (typeof query !== 'string') return false;
  try {
    const op = getOperationAST(
      parse(query, { maxTokens, noLocation: true }),
      typeof operationName === 'string' ? operationName : undefined,
    );
    return (
      op?.operation === 'mutation' &&
      op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && BULK_ID_LIST_MUTATIONS.has(s.name.value))
    );
  } catch {
    return false;
  }
}

/**
 * JSON bodies of `/graphql`: 1 MB, or 8 MB for a signed-in admin's bulk id-list mutation.
 * Decided before reading where the length is known: a body over 1 MB is read only when the
 * request carries a valid session (`isSignedIn`), so an anonymous caller never gets more than
 * 1 MB parsed; after parsing, a body over 1 MB must be a bulk id-list mutation. Refusals are
 * 413 with a JSON error, like the upload route's.
 */
export function graphqlBodyParser(opts: {
  isSignedIn: (req: Request) => Promise<boolean>;
  maxTokens: number;
  /** The document a body runs (a trusted document's text for a `documentId`). */
  queryOf?: (body: object) => unknown;
}): RequestHandler {
  const small = express.json({ limit: BODY_LIMIT });
  const large = express.json({
    limit: BULK_BODY_LIMIT,
    verify: (req, _res, buf) => {
      (req as Request & { [BODY_BYTES]?: number })[BODY_BYTES] = buf.length;
    },
  });
  const ordinaryMessage = `Request body too large: the limit is ${mb(BODY_LIMIT)} (${mb(BULK_BODY_LIMIT)} for a signed-in bulk id-list mutation: ${[...BULK_ID_LIST_MUTATIONS].join(', ')}).`;
  // Body-parser's own limit error (a chunked body crossing the limit) answers the same way.
  const withMessage = (res: Response, next: NextFunction) => (err?: unknown) => {
    if ((err as { type?: string } | undefined)?.type === 'entity.too.large') return tooLarge(res, ordinaryMessage);
    next(err);
  };

  return (req, res, next) => {
    void (async () => {
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
      // No length and not chunked (a GET): no body, nothing to decide.
      const chunked = declared === undefined && req.headers['transfer-encoding'] !== undefined;
      if (!chunked && (declared ?? 0) <= BODY_LIMIT) return small(req, res, withMessage(res, next));
      if (declared !== undefined && declared > BULK_BODY_LIMIT) return tooLarge(res, ordinaryMessage);
      if (!(await opts.isSignedIn(req))) {
        if (declared !== undefined) return tooLarge(res, ordinaryMessage);
        return small(req, res, withMessage(res, next)); // chunked: refused once 1 MB has arrived
      }
      large(req, res, (err?: unknown) => {
        if (err) return withMessage(res, next)(err);
        const bytes = (req as Request & { [BODY_BYTES]?: number })[BODY_BYTES] ?? 0;
        if (bytes > BODY_LIMIT && !isBulkIdListMutation(req.body, opts.maxTokens, opts.queryOf)) return tooLarge(res, ordinaryMessage);
        next();
      });
    })().catch(next);
  };
}
