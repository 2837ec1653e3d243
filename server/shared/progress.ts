import type { PubSub, Topics } from './pubsub.js';

/** With no event for this long, a progress stream re-reads the state (a lost event never leaves it stuck). */
const QUIET_RESYNC_MS = 5000;

/**
 * A progress subscription: the object's current state at once (a late subscriber is never
 * left waiting), then the published events, ending after the first terminal one. The bus
 * subscription opens before the state is read, so no event in between is lost.
 *
 * Events can still be lost when the bus's database connection drops (NOTIFY is not queued
 * for a listener that is reconnecting). So the state is read again when the bus reports it
 * reconnected, and after `QUIET_RESYNC_MS` without events (running work publishes a heartbeat
 * every 500 ms, so silence means an event went missing or nothing moves); a changed state is
 * yielded like an event, and a terminal one ends the stream. A read that fails because the
 * database is away is retried at the next occasion rather than ending the stream.
 */
export async function* liveProgress<K extends keyof Topics>(opts: {
  pubsub: PubSub;
  kind: K;
  id: string;
  current: () => Promise<Topics[K]>;
  isTerminal: (event: Topics[K]) => boolean;
  quietResyncMs?: number;
}): AsyncGenerator<Topics[K]> {
  const controller = new AbortController();
  const events = opts.pubsub.subscribe(opts.kind, opts.id, controller.signal);
  let wake: (() => void) | null = null;
  const removeResync = opts.pubsub.onResync(() => wake?.());
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = await opts.current();
    yield first;
    if (opts.isTerminal(first)) return;
    // The last state yielded, compared (as JSON) only when a re-read happens: serialising every
    // event for every subscriber just in case was a measurable share of delivering it to a
    // thousand subscribers (test/bench/subscribers.bench.ts).
    let last = first;
    let next = events.next();
    for (;;) {
      const woken = new Promise<'resync'>((resolve) => {
        wake = () => resolve('resync');
        timer = setTimeout(wake, opts.quietResyncMs ?? QUIET_RESYNC_MS);
      });
      const got = await Promise.race([next, woken]);
      clearTimeout(timer);
      wake = null;
      let e: Topics[K];
      if (got === 'resync') {
        const now = await opts.current().catch(() => null);
        // Unchanged (nothing was missed), or the database is away: keep waiting.
        if (now === null || JSON.stringify(now) === JSON.stringify(last)) continue;
        e = now;
      } else {
        if (got.done) return;
        next = events.next();
        e = got.value;
      }
      last = e;
      yield e;
      if (opts.isTerminal(e)) return;
    }
  } finally {
    clearTimeout(timer);
    removeResync();
    controller.abort();
  }
}
