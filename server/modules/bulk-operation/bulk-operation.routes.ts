import { type Request, type Response, Router } from 'express';
import { authenticateHeader } from '../../http/authenticate.js';
import type { Services } from '../../services.js';
import { fromGlobalId, toGlobalId } from '../../shared/ids.js';
import { ApiScope, missingScope } from '../../shared/scopes.js';
import { CsvFileError, csvCell, MAX_BYTES } from './csv.js';

/** The scope an API token needs for both routes (uploading a CSV, downloading results). */
export const ROUTE_SCOPE = ApiScope.BULK_WRITE;

function fail(res: Response, status: number, code: string, message: string) {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

const TOO_LARGE = `The file is larger than ${MAX_BYTES / 1024 / 1024} MB; split it into several uploads.`;

/**
 * Reads the request body as it arrives: checks UTF-8 incrementally (fatal on invalid bytes),
 * refuses NUL bytes (binary files) and stops keeping data at the size limit, so a bad or huge
 * file is refused as soon as it is recognised and never held whole. After a refusal the rest
 * of the body is read and dropped, so the client still receives the error response. The body
 * is kept as the bytes received (one Buffer, outside the JS heap, sealed as it is); the
 * decoded text is only looked at, for whether anything but white space was sent.
 */
function readCsvBody(req: Request): Promise<{ bytes: Buffer; blank: boolean }> {
  return new Promise((resolve, reject) => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let parts: Buffer[] = [];
    let size = 0;
    let blank = true;
    let refused = false;
    const refuse = (err: Error) => {
      refused = true;
      parts = [];
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BYTES) return refuse(Object.assign(new CsvFileError(TOO_LARGE), { status: 413 }));
      if (chunk.includes(0)) return refuse(new CsvFileError('The file looks binary (it contains NUL bytes); upload a UTF-8 CSV file.'));
      try {
        const text = decoder.decode(chunk, { stream: true });
        // As `!text.trim()` on the whole: \s and trim() know the same white space (BOM included).
        if (blank && /\S/.test(text)) blank = false;
      } catch {
        return refuse(new CsvFileError('The file is not valid UTF-8 text.'));
      }
      parts.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      try {
        if (blank && /\S/.test(decoder.decode())) blank = false;
      } catch {
        return refuse(new CsvFileError('The file is not valid UTF-8 text (it ends inside a character).'));
      }
      resolve({ bytes: Buffer.concat(parts, size), blank });
    });
    req.on('error', (err) => {
      if (!refused) refuse(err);
    });
  });
}

/**
 * Plain HTTP routes of bulk operations: the CSV goes to POST /uploads as the raw request body
 * (so a 20 MB file is never one GraphQL string), and results come back as a CSV download.
 * Both authenticate with the same bearer session as GraphQL, before any of the body is read.
 */
export function bulkRoutes(services: Services): Router {
  const router = Router();

  router.post('/uploads', async (req, res) => {
    const { viewer } = await authenticateHeader(services, req.header('authorization'), req.ip);
    // Responding without reading the body is fine: Node discards the rest of an unread body.
    if (!viewer) return fail(res, 401, 'UNAUTHENTICATED', 'Sign in first: send a valid session token.');
    const missing = missingScope(viewer, ROUTE_SCOPE, req.path);
    if (missing) return fail(res, 403, 'FORBIDDEN', missing);
    const declared = Number(req.header('content-length'));
    if (Number.isFinite(declared) && declared > MAX_BYTES) return fail(res, 413, 'PAYLOAD_TOO_LARGE', TOO_LARGE);
    try {
      const { bytes, blank } = await readCsvBody(req);
      if (blank) return fail(res, 400, 'BAD_USER_INPUT', 'The file is empty.');
      const name = req.header('x-filename') ?? null;
      const id = await services.bulk.storeUpload(viewer, bytes, name ? name.slice(0, 200) : null);
      res.status(201).json({ uploadId: toGlobalId('Upload', id), size: bytes.length });
    } catch (err) {
      if (err instanceof CsvFileError) {
        const status = (err as { status?: number }).status ?? 400;
        return fail(res, status, status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT', err.message);
      }
      throw err;
    }
  });

  router.get('/bulk-operations/:id/results.csv', async (req, res) => {
    const { viewer } = await authenticateHeader(services, req.header('authorization'), req.ip);
    if (!viewer) return fail(res, 401, 'UNAUTHENTICATED', 'Sign in first: send a valid session token.');
    const missing = missingScope(viewer, ROUTE_SCOPE, req.path);
    if (missing) return fail(res, 403, 'FORBIDDEN', missing);
    const id = fromGlobalId(String(req.params['id']), 'BulkOperation');
    const op = id ? await services.bulk.get(viewer, id) : null;
    if (!op) return fail(res, 404, 'NOT_FOUND', 'No such bulk operation.');
    res.setHeader('content-type', 'text/csv; charset=utf-8');
    res.setHeader('content-disposition', `attachment; filename="bulk-${op.kind.toLowerCase()}-results.csv"`);
    res.write('row,user_id,reference,email,outcome,error_code,message\n');
    let after = 0;
    for (;;) {
      const items = await services.bulk.resultItems(op.id, after, 5000);
      if (!items.length) break;
      res.write(
        items
          .map((i) =>
            [i.seq, i.userId ? toGlobalId('User', i.userId) : '', i.reference, i.email, i.outcome, i.errorCode, i.message]
              .map(csvCell)
              .join(','),
          )
          .join('\n') + '\n',
      );
      after = items[items.length - 1]!.seq;
    }
    res.end();
  });

  return router;
}
