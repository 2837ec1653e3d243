import express, { type Request, type Response, Router } from 'express';
import type { Services } from '../../services.js';
import { fromGlobalId, toGlobalId } from '../../shared/ids.js';
import { CsvFileError, csvCell, MAX_BYTES } from './csv.js';

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '');
  return m?.[1];
}

function fail(res: Response, status: number, code: string, message: string) {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * Plain HTTP routes of bulk operations: the CSV goes to POST /uploads as the raw request body
 * (so a 20 MB file is never one GraphQL string), and results come back as a CSV download.
 * Both authenticate with the same bearer session as GraphQL.
 */
export function bulkRoutes(services: Services): Router {
  const router = Router();

  router.post('/uploads', express.raw({ type: () => true, limit: MAX_BYTES }), async (req, res) => {
    const resolved = await services.auth.resolveToken(bearer(req));
    if (!resolved?.viewer) return fail(res, 401, 'UNAUTHENTICATED', 'Sign in first: send a valid session token.');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      const name = req.header('x-filename') ?? null;
      const id = await services.bulk.storeUpload(resolved.viewer, body, name ? name.slice(0, 200) : null);
      res.status(201).json({ uploadId: toGlobalId('Upload', id), size: body.length });
    } catch (err) {
      if (err instanceof CsvFileError) return fail(res, 400, 'BAD_USER_INPUT', err.message);
      throw err;
    }
  });

  router.get('/bulk-operations/:id/results.csv', async (req, res) => {
    const resolved = await services.auth.resolveToken(bearer(req));
    if (!resolved?.viewer) return fail(res, 401, 'UNAUTHENTICATED', 'Sign in first: send a valid session token.');
    const id = fromGlobalId(String(req.params['id']), 'BulkOperation');
    const [op] = id ? await services.stores.bulk.byIds(resolved.viewer.tenantId, [id]) : [];
    if (!op) return fail(res, 404, 'NOT_FOUND', 'No such bulk operation.');
    res.setHeader('content-type', 'text/csv; charset=utf-8');
    res.setHeader('content-disposition', `attachment; filename="bulk-${op.kind.toLowerCase()}-results.csv"`);
    res.write('row,user_id,reference,email,outcome,error_code,message\n');
    let after = 0;
    for (;;) {
      const items = await services.stores.bulk.items(op.id, null, 5000, after);
      if (!items.length) break;
      res.write(
        items
          .map((i) =>
            [i.seq, i.userId ? toGlobalId('User', i.userId) : '', i.reference, i.email, i.outcome, i.errorCode, i.message].map(csvCell).join(','),
          )
          .join('\n') + '\n',
      );
      after = items[items.length - 1]!.seq;
    }
    res.end();
  });

  return router;
}
