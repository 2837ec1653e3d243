import type { PubSub } from './pubsub.js';

/**
 * A progress subscription: the object's current state at once (a late subscriber is never
 * left waiting), then the published events, ending after the first terminal one. The bus
 * subscription opens before the state is read, so no event in between is lost.
 */
export async function* liveProgress<T extends { status: string }>(opts: {
  pubsub: PubSub;
  topic: string;
  current: () => Promise<T>;
  isTerminal: (status: string) => boolean;
}): AsyncGenerator<T> {
  const controller = new AbortController();
  const events = opts.pubsub.subscribe(opts.topic, controller.signal);
  try {
    const now = await opts.current();
    yield now;
    if (opts.isTerminal(now.status)) return;
    for await (const e of events) {
      const ev = e as T;
      yield ev;
      if (opts.isTerminal(ev.status)) return;
    }
  } finally {
    controller.abort();
  }
}
