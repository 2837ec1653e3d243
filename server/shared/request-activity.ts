import type { ServerResponse } from 'node:http';

/**
 * The HTTP requests this process is answering. On PGlite a background run (a sync) shares the
 * one connection with them, and a request's statements come one after another with JavaScript
 * between them: a chunk that starts in such a gap makes the request's next statement wait for
 * the whole chunk. So between chunks the run waits until the requests in flight have answered,
 * up to a bound, instead of pausing for a fixed time whether or not anybody is waiting.
 * Websocket upgrades are not requests here: a subscription lives for hours.
 */
export class RequestActivity {
  private inFlight = 0;
  private readonly waiters = new Set<() => void>();

  /** Counts `res`'s request until its response has been sent or its connection dropped. */
  track(res: ServerResponse): void {
    this.inFlight++;
    // 'close' follows 'finish', and also comes alone when the client goes away: once either way.
    res.once('close', this.done);
  }

  private readonly done = (): void => {
    this.inFlight--;
    if (this.inFlight > 0) return;
    for (const wake of [...this.waiters]) wake();
  };

  /** Resolves once no request is in flight, or after `maxMs` if some still are. */
  settled(maxMs: number): Promise<void> {
    if (this.inFlight === 0 || maxMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxMs);
      this.waiters.add(wake);
    });
  }
}
