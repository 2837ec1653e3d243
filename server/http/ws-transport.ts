import type http from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../shared/logger.js';

/** graphql-ws's `Extra` of a socket served here (the same as its `use/ws` adapter gives). */
export interface Extra {
  readonly socket: WebSocket;
  readonly request: http.IncomingMessage;
}

/**
 * What `onNext` returns in place of a payload already serialised (`preSerialisedNext`).
 * graphql-ws then writes `{"id":…,"type":"next","payload":{}}` for it, and this transport's
 * `send` replaces that exact text with the frame carrying the serialised payload.
 */
const PLACEHOLDER: Readonly<Record<string, never>> = Object.freeze({});

/** Per socket: the placeholder text graphql-ws is about to send → the frame to send instead. */
const pendingFrames = new WeakMap<WebSocket, Map<string, string>>();

/**
 * For graphql-ws's `onNext`: the `next` message of subscription `id` on this socket is to carry
 * `payloadJson` (JSON text) as its payload; returns what `onNext` must return. The frame is
 * byte for byte what graphql-ws would write for the parsed payload (`JSON.stringify` of
 * `{ id, type, payload }`), but the payload's text is not produced again per socket: with a
 * thousand subscribers sharing one result (shared-execution.ts), serialising it for each of
 * them was a large share of delivering it.
 */
export function preSerialisedNext(extra: Extra, id: string, payloadJson: string): object {
  let pending = pendingFrames.get(extra.socket);
  if (!pending) pendingFrames.set(extra.socket, (pending = new Map()));
  const idJson = JSON.stringify(id);
  // One entry per subscription id: graphql-ws sends a subscription's next message before it
  // asks for the following result, but several subscriptions of one socket can interleave.
  pending.set(`{"id":${idJson},"type":"next","payload":{}}`, `{"id":${idJson},"type":"next","payload":${payloadJson}}`);
  return PLACEHOLDER;
}

/**
 * graphql-ws served on a `ws` server: its `use/ws` adapter ("a basic starter, feel free to copy
 * the code over and adjust it", as its documentation says), with `send` able to substitute a
 * pre-serialised frame, and errors logged instead of printed. No keep-alive here: see
 * `keepAlive` in websocket.ts.
 */
export function serveGraphqlWs<P extends Record<string, unknown>, E extends Record<PropertyKey, unknown>>(
  options: ServerOptions<P, Extra & Partial<E>>,
  wsServer: WebSocketServer,
  log: Logger,
): { dispose(): Promise<void> } {
  const server = makeServer(options);
  wsServer.options.handleProtocols = handleProtocols;
  wsServer.once('error', (err) => {
    log.error({ err }, 'websocket server error');
    for (const client of wsServer.clients) client.close(CloseCode.InternalServerError, 'Internal server error');
  });
  wsServer.on('connection', (socket, request) => {
    socket.once('error', (err) => {
      log.warn({ err }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          const pending = pendingFrames.get(socket);
          if (pending?.size) {
            const frame = pending.get(data);
            if (frame !== undefined) {
              pending.delete(data);
              data = frame;
            }
          }
          return new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          });
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', (data: Buffer) => {
            cb(String(data)).catch((err: unknown) => {
              log.error({ err }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request } as Extra & Partial<E>,
    );
    socket.once('close', (code, reason) => {
      pendingFrames.delete(socket);
      closed(code, String(reason)).catch((err: unknown) => log.error({ err }, 'graphql-ws close handling failed'));
    });
  });
  return {
    async dispose() {
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) => wsServer.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
