import type { PubSub, Topics } from './pubsub.js';

/**
 * A progress subscription: the object's current state at once (a late subscriber is never
 * left waiting), then the published events, ending after the first terminal one. The bus
 * subscription opens before the state is read, so no event in between is lost.
 */
export async function* liveProgress<K extends keyof Topics>(opts: {
  pubsub: PubSub;
  kind: K;
  id: string;
  current: () => Promise<Topics[K]>;
  isTerminal: (event: Topics[K]) => boolean;
}): AsyncGenerator<Topics[K]> {
  const controller = new AbortController();
  const events = opts.pubsub.subscribe(opts.kind, opts.id, controller.signal);
  try {
    const now = await opts.current();
    yield now;
    if (opts.isTerminal(now)) return;
    for await (const e of events) {
      yield e;
      if (opts.isTerminal(e)) return;
    }
  } finally {
    controller.abort();
  }
}
