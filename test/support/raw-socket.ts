import WebSocket from 'ws';

export interface RawResult {
  data?: any;
  errors?: { message: string; extensions?: { code?: string } }[];
  /** The socket closed before the operation finished (or was already closed). */
  closedWith?: number;
}

/**
 * One graphql-ws connection spoken by hand, for tests that need what the typed client hides:
 * the close code, and operations sent on exactly this (old) socket, never a reconnected one.
 */
export class RawSocket {
  private seq = 0;
  private closeCode: number | null = null;
  private readonly pending = new Map<string, { result: RawResult; done: (r: RawResult) => void }>();
  /** `subscribeFrames` operations: every frame's text for the id, until its complete or error. */
  private readonly framesOf = new Map<string, { frames: string[]; done: (frames: string[]) => void }>();
  /** Resolves with the close code when the server (or anyone) closes the socket. */
  readonly closed: Promise<number>;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        this.closeCode = code;
        for (const p of this.pending.values()) p.done({ ...p.result, closedWith: code });
        this.pending.clear();
        for (const f of this.framesOf.values()) f.done(f.frames);
        this.framesOf.clear();
        resolve(code);
      }),
    );
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { id?: string; type: string; payload?: any };
      const f = m.id ? this.framesOf.get(m.id) : undefined;
      if (f && m.id) {
        f.frames.push(String(raw));
        if (m.type === 'error' || m.type === 'complete') {
          this.framesOf.delete(m.id);
          f.done(f.frames);
        }
        return;
      }
      const p = m.id ? this.pending.get(m.id) : undefined;
      if (!p || !m.id) return;
      if (m.type === 'next') {
        p.result.data = m.payload.data;
        if (m.payload.errors) p.result.errors = m.payload.errors;
      } else if (m.type === 'error' || m.type === 'complete') {
        if (m.type === 'error') p.result.errors = m.payload;
        this.pending.delete(m.id);
        p.done(p.result);
      }
    });
  }

  /** Connects and sends `connection_init` with the token; resolves once acknowledged, or with the close code if refused. */
  static open(wsUrl: string, token: string): Promise<RawSocket> {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    const socket = new RawSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
      ws.on('message', (raw) => {
        if ((JSON.parse(String(raw)) as { type: string }).type === 'connection_ack') resolve(socket);
      });
      void socket.closed.then((code) => reject(new Error(`websocket refused: ${code}`)));
      ws.once('error', reject);
    });
  }

  /** Runs one operation (query, mutation, or the first event of a subscription) on this socket. */
  run(query: string, variables?: Record<string, unknown>): Promise<RawResult> {
    if (this.closeCode !== null) return Promise.resolve({ closedWith: this.closeCode });
    const id = String(++this.seq);
    return new Promise((done) => {
      this.pending.set(id, { result: {}, done });
      this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    });
  }

  /**
   * Subscribes under the operation id `id` (any text the protocol allows) and resolves with the
   * exact text of every frame the server sent for it, up to and including its complete or error.
   */
  subscribeFrames(id: string, query: string, variables?: Record<string, unknown>): Promise<string[]> {
    if (this.closeCode !== null) return Promise.resolve([]);
    return new Promise((done) => {
      this.framesOf.set(id, { frames: [], done });
      this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    });
  }

  close(): void {
    if (this.closeCode === null) this.ws.close(1000);
  }
}

/** `promise`, or a rejection naming `what` after `ms` (a bound for a test that would otherwise hang, not a timing assertion). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}
