import { createRequire } from 'node:module';
import path from 'node:path';
import { Router, type Request } from 'express';
import { packageRoot } from '../shared/package-root.js';

const require = createRequire(import.meta.url);
const dirOf = (pkg: string) => path.dirname(require.resolve(`${pkg}/package.json`));

/** Every file the explorer page loads, served from installed packages: it works offline, no CDN. */
function assetFiles(): Map<string, string> {
  const own = path.join(packageRoot(), 'public', 'explorer');
  return new Map([
    ['react.js', path.join(dirOf('react'), 'umd', 'react.production.min.js')],
    ['react-dom.js', path.join(dirOf('react-dom'), 'umd', 'react-dom.production.min.js')],
    ['graphiql.js', path.join(dirOf('graphiql'), 'graphiql.min.js')],
    ['graphiql.css', path.join(dirOf('graphiql'), 'graphiql.min.css')],
    ['graphql-ws.js', path.join(dirOf('graphql-ws'), 'umd', 'graphql-ws.min.js')],
    ['explorer.js', path.join(own, 'explorer.js')],
    ['explorer.css', path.join(own, 'explorer.css')],
  ]);
}

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Roster GraphQL explorer</title>
    <link rel="stylesheet" href="/graphql/explorer/graphiql.css" />
    <link rel="stylesheet" href="/graphql/explorer/explorer.css" />
  </head>
  <body>
    <div id="graphiql">Loading the explorer…</div>
    <script src="/graphql/explorer/react.js"></script>
    <script src="/graphql/explorer/react-dom.js"></script>
    <script src="/graphql/explorer/graphql-ws.js"></script>
    <script src="/graphql/explorer/graphiql.js"></script>
    <script src="/graphql/explorer/explorer.js"></script>
  </body>
</html>
`;

/** A browser navigating to /graphql: it asks for HTML first and sends no query. API clients go on to Apollo. */
function wantsExplorer(req: Request): boolean {
  if (req.method !== 'GET' || req.path !== '/' || req.query['query'] !== undefined) return false;
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/**
 * GraphiQL on `GET /graphql` for browsers (GRAPHQL_EXPLORER; on by default outside production).
 * Scripts only from this origin; GraphiQL's editor sets inline styles, so styles allow them.
 */
export function explorerRoutes(): Router {
  const router = Router();
  const files = assetFiles();
  router.get('/explorer/:file', (req, res, next) => {
    const file = files.get(String(req.params['file']));
    if (!file) return next();
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.sendFile(file);
  });
  router.use((req, res, next) => {
    if (!wantsExplorer(req)) return next();
    // Only a plain host[:port] goes into the header; anything else leaves the socket to 'self'.
    const host = /^[\w.-]+(:\d+)?$|^\[[\da-f:]+\](:\d+)?$/i.test(req.get('host') ?? '') ? req.get('host')! : '';
    res.setHeader(
      'Content-Security-Policy',
      [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        host ? `connect-src 'self' ws://${host} wss://${host}` : "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
      ].join('; '),
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.type('html').send(PAGE);
  });
  return router;
}
