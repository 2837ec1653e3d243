import { createRequire } from 'node:module';
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import type * as GraphQL from 'graphql';

// The CommonJS graphql-js, the copy type-graphql built the schema with and graphql-ws uses
// (see websocket.ts): under vitest an ES import would load the other copy.
const { createSourceEventStream, execute } = createRequire(import.meta.url)('graphql') as typeof GraphQL;

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Results handed to more than one subscriber possibly: the same object for each. */
const sharedResults = new WeakSet<ExecutionResult>();

/**
 * Whether `result` is one execution shared by the subscribers of an event (`sharedSubscribe`):
 * its serialised payload is then the same for each of them and can be produced once.
 */
export function isSharedResult(result: ExecutionResult): boolean {
  return sharedResults.has(result);
}

function markShared(r: Result): Result {
  if (!('then' in r)) {
    sharedResults.add(r);
    return r;
  }
  return r.then((done) => {
    sharedResults.add(done);
    return done;
  });
}

/**
 * graphql-ws's `subscribe`, with each published event executed once per audience instead of
 * once per subscriber. An event is one object handed to every local subscriber of its topic
 * (the bus emits it once); subscribers whose operation has the same text, operation name and
 * variables, and whose `audienceOf` is the same, get the same result object for it. With a
 * thousand browser tabs following one sync run, executing the selection for every tab was
 * the largest share of delivering each event (test/bench/subscribers.bench.ts).
 *
 * `audienceOf` must capture everything a result may depend on besides the event and the
 * operation: the tenant (loaders and reads are tenant-scoped) and, for API tokens, the scopes.
 * `null` opts a subscriber out (executed on its own, as graphql-js does). Results are kept in a
 * WeakMap on the event object, so they go when the event does. Events that are not objects,
 * and a subscriber's first state (read for it alone), are executed per subscriber as before.
 */
export function sharedSubscribe(audienceOf: (contextValue: unknown) => string | null) {
  const results = new WeakMap<object, Map<string, Result>>();
  return async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    const source = stream[Symbol.asyncIterator]();
    const audience = audienceOf(args.contextValue);
    const text = args.document.loc?.source.body;
    const key =
      audience === null || text === undefined
        ? null
        : JSON.stringify([audience, args.operationName ?? null, text, args.variableValues ?? null]);
    const run = (event: unknown): Result => {
      if (key === null || typeof event !== 'object' || event === null) return execute({ ...args, rootValue: event });
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let r = byKey.get(key);
      if (!r) {
        r = markShared(execute({ ...args, rootValue: event }));
        byKey.set(key, r);
      }
      return r;
    };
    // Like graphql-js's own mapping: `return` goes straight to the source, so an unsubscribe
    // ends its bus listener at once rather than after the next event.
    const mapped: AsyncIterableIterator<ExecutionResult> = {
      [Symbol.asyncIterator]() {
        return mapped;
      },
      // Without `async`: a result executed synchronously (or shared and already settled) goes
      // out without extra promise steps, which a thousand subscribers pay each per event.
      next() {
        return source.next().then((r): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
          if (r.done) return { done: true, value: undefined };
          const result = run(r.value);
          return 'then' in result ? result.then((value) => ({ done: false, value })) : { done: false, value: result };
        });
      },
      async return() {
        await source.return?.();
        return { done: true, value: undefined };
      },
      async throw(err: unknown) {
        if (source.throw) await source.throw(err);
        throw err;
      },
    };
    return mapped;
  };
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}
