import path from 'node:path';
import express, { Router } from 'express';
import { packageRoot } from '../../shared/package-root.js';

/** The portal's one script and one stylesheet, served by Roster itself (no CDN; the CSP allows only 'self'). */
export function portalAssets(): Router {
  const router = Router();
  router.use('/_assets', express.static(path.join(packageRoot(), 'public', 'portal'), { index: false, fallthrough: false, maxAge: '1h' }));
  return router;
}
