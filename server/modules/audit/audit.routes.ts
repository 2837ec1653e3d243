import { type Request, type Response, Router } from 'express';
import { GraphQLError } from 'graphql';
import { authenticateHeader } from '../../http/authenticate.js';
import type { Services } from '../../services.js';
import { ApiScope, missingScope } from '../../shared/scopes.js';
import { exportLine } from './audit.view.js';

/** The scope an API token needs for the export. */
export const EXPORT_ROUTE_SCOPE = ApiScope.AUDIT_READ;

function fail(res: Response, status: number, code: string, message: string, field?: string) {
  res.status(status).json({ errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });
}

/** A query parameter as a time: ISO 8601 (`2026-11-01`, `2026-11-01T00:00:00Z`); undefined when absent, null when unparsable. */
function timeParam(req: Request, name: string): Date | null | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v.trim())) return null;
  const d = new Date(v.trim());
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * `GET /audit-events.ndjson?since=…&until=…`: the tenant's audit events, oldest first, one
 * JSON object per line, for SIEM tools. Streamed in keyset pages (constant memory whatever the
 * range holds). Authenticated like every route (`Bearer` admin session, or an API token with
 * audit:read). A missing, unparsable, inverted or too long range is a 400 with a JSON error
 * before anything is streamed.
 */
export function auditRoutes(services: Services): Router {
  const router = Router();
  router.get('/audit-events.ndjson', async (req, res) => {
    const { viewer } = await authenticateHeader(services, req.header('authorization'), req.ip);
    if (!viewer) return fail(res, 401, 'UNAUTHENTICATED', 'Sign in first: send a valid session token or API token.');
    const missing = missingScope(viewer, EXPORT_ROUTE_SCOPE, req.path);
    if (missing) return fail(res, 403, 'FORBIDDEN', missing);
    const since = timeParam(req, 'since');
    const until = timeParam(req, 'until');
    if (!since) return fail(res, 400, 'INVALID_INPUT', '"since" is required: an ISO 8601 time such as 2026-11-01T00:00:00Z.', 'since');
    if (until === null) return fail(res, 400, 'INVALID_INPUT', '"until" must be an ISO 8601 time such as 2026-11-02T00:00:00Z.', 'until');
    const pages = services.audit.export(viewer, since, until ?? null);
    let first: IteratorResult<unknown[]>;
    try {
      // The range is checked when the first page is asked for: a bad one is still a clean 400.
      first = await pages.next();
    } catch (err) {
      if (err instanceof GraphQLError && err.extensions['code'] === 'INVALID_INPUT')
        return fail(res, 400, 'INVALID_INPUT', err.message, String(err.extensions['field'] ?? ''));
      throw err;
    }
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    let page = first;
    while (!page.done) {
      const chunk = (page.value as Parameters<typeof exportLine>[0][]).map(exportLine).join('\n') + '\n';
      // Respect back-pressure: a slow reader holds one page, not the whole range.
      if (!res.write(chunk))
        await new Promise((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      if (res.destroyed) {
        await pages.return(undefined);
        return;
      }
      page = await pages.next();
    }
    res.end();
  });
  return router;
}
