import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Services } from '../../services.js';
import { newRequestClient } from '../../shared/client.js';
import type { Logger } from '../../shared/logger.js';
import { resourceTypes, schemas, serviceProviderConfig } from '../../modules/scim/scim-discovery.js';
import { ScimError } from '../../modules/scim/scim.errors.js';
import type { ListQuery, ScimPrincipal, ScimResponse } from '../../modules/scim/scim.service.js';

/** Request bodies above this are refused (413) before parsing. */
export const SCIM_BODY_LIMIT = '1mb';
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/**
 * The SCIM 2.0 endpoint of each SCIM provisioning, `/scim/v2/<provisioning id>/…` (RFC 7644).
 * Thin: it authenticates the bearer token (which decides tenant and provisioning: another
 * provisioning's ids are 404), parses the body, calls one service method and writes its answer
 * as `application/scim+json`. Every failure is a SCIM error, never an HTML page or a 500 for
 * bad input.
 */
export function scimRoutes(services: Services, log: Logger): Router {
  const outer = express.Router();
  const r = express.Router({ mergeParams: true, caseSensitive: false });

  r.use(async (req: Request, res: Response, next: NextFunction) => {
    try {
      const principal = await services.scim.authenticate(
        String(req.params['provisioningId']),
        req.header('authorization'),
        newRequestClient(req.ip),
      );
      // The request id and address travel with the principal to the audit trail.
      res.locals['scim'] = { ...principal, request: { id: String(res.locals['requestId']), address: req.ip ?? null } };
      next();
    } catch (err) {
      next(err);
    }
  });
  // Parsed only once the token is known: no anonymous caller gets a body read.
  r.use(express.json({ type: ['application/scim+json', 'application/json', 'application/*+json'], limit: SCIM_BODY_LIMIT }));

  type Handler = (p: ScimPrincipal, req: Request) => Promise<ScimResponse>;
  const route = (handler: Handler) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      send(res, await handler(res.locals['scim'] as ScimPrincipal, req));
    } catch (err) {
      next(err);
    }
  };
  const q = (req: Request) => req.query as ListQuery;
  const id = (req: Request) => String(req.params['id']);
  const ifMatch = (req: Request) => req.header('if-match');

  r.get(
    '/ServiceProviderConfig',
    route(async (p) => ({ status: 200, body: serviceProviderConfig(p.base) })),
  );
  r.get(
    '/ResourceTypes',
    route(async (p) => ({ status: 200, body: list(resourceTypes(p.base)) })),
  );
  r.get(
    '/ResourceTypes/:id',
    route(async (p, req) => found(resourceTypes(p.base).find((t) => t.id.toLowerCase() === id(req).toLowerCase()))),
  );
  r.get(
    '/Schemas',
    route(async (p) => ({ status: 200, body: list(schemas(p.base)) })),
  );
  r.get(
    '/Schemas/:id',
    route(async (p, req) => found(schemas(p.base).find((s) => s.id.toLowerCase() === id(req).toLowerCase()))),
  );

  // /Users and /Groups are the same six routes over two services with one shape.
  for (const [path, resource] of [
    ['/Users', services.scimUsers],
    ['/Groups', services.scimGroups],
  ] as const) {
    r.get(
      path,
      route((p, req) => resource.list(p, q(req))),
    );
    r.post(
      path,
      route((p, req) => resource.create(p, req.body)),
    );
    r.get(
      `${path}/:id`,
      route((p, req) => resource.get(p, id(req), q(req))),
    );
    r.put(
      `${path}/:id`,
      route((p, req) => resource.replace(p, id(req), req.body, ifMatch(req))),
    );
    r.patch(
      `${path}/:id`,
      route((p, req) => resource.patch(p, id(req), req.body, ifMatch(req))),
    );
    r.delete(
      `${path}/:id`,
      route((p, req) => resource.delete(p, id(req), ifMatch(req))),
    );
  }

  r.use((_req: Request, _res: Response, next: NextFunction) => next(new ScimError(404, null, 'No such SCIM endpoint.')));

  r.use(async (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = asScimError(err);
    if (e.status >= 500) log.error({ err }, 'unexpected error in SCIM request');
    const p = res.locals['scim'] as ScimPrincipal | undefined;
    // Refusals are logged for the admin; throttled requests are not (a flood must not write a row each).
    if (p && e.status !== 429) {
      await services.scim
        .refused(p, req.method, resourceOf(req), e)
        .catch((logErr: unknown) => log.warn({ err: logErr }, 'SCIM activity not recorded'));
    }
    if (e.retryAfter) res.setHeader('Retry-After', String(e.retryAfter));
    if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="scim"');
    res.status(e.status).type(CONTENT_TYPE).send(JSON.stringify(e.toJSON()));
  });

  outer.use('/scim/v2/:provisioningId', r);
  return outer;
}

function send(res: Response, r: ScimResponse): void {
  if (r.location && r.status === 201) res.setHeader('Location', r.location);
  if (r.etag) res.setHeader('ETag', r.etag);
  res.status(r.status);
  if (r.body === undefined) res.end();
  else res.type(CONTENT_TYPE).send(JSON.stringify(r.body));
}

function list(resources: unknown[]) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

function found(body: unknown): ScimResponse {
  if (!body) throw new ScimError(404, null, 'Not found.');
  return { status: 200, body };
}

/** The path below the base URL, without the query string (filters may hold personal data). */
function resourceOf(req: Request): string {
  return req.path.replace(/^\/+/, '').slice(0, 200) || '/';
}

function asScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.too.large') return new ScimError(413, null, `The request body is over ${SCIM_BODY_LIMIT}.`);
  if (e.type === 'entity.parse.failed') return new ScimError(400, 'invalidSyntax', 'The body is not valid JSON.');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return new ScimError(415, null, 'Send UTF-8 JSON.');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new ScimError(e.status, 'invalidSyntax', 'Bad request.');
  return new ScimError(500, null, 'Internal server error.');
}
