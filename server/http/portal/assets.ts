import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** The repository (or installed package) root: the nearest folder above this file holding package.json. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package root not found');
    dir = up;
  }
  return dir;
}

/** The portal's one script and one stylesheet, served by Roster itself (no CDN; the CSP allows only 'self'). */
export function portalAssets(): Router {
  const router = Router();
  router.use('/_assets', express.static(path.join(packageRoot(), 'public', 'portal'), { index: false, fallthrough: false, maxAge: '1h' }));
  return router;
}
