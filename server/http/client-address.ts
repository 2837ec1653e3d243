import type { IncomingMessage } from 'node:http';
import type { Express, Request } from 'express';

/**
 * The client address of a websocket upgrade request, by express's own `req.ip` rule (so the
 * `trust proxy` setting applies to both transports alike): the upgrade never passes through
 * express, so it is viewed through an object whose prototype is the app's request.
 */
export function upgradeClientAddress(app: Express, req: IncomingMessage): string | null {
  const view = Object.create(app.request, {
    headers: { value: req.headers },
    socket: { value: req.socket },
  }) as Request;
  return view.ip ?? null;
}
