import { describe, expect, it } from 'vitest';
import { liveProgress } from '../server/shared/progress.js';
import type { Listener, PubSub } from '../server/shared/pubsub.js';

/**
 * `liveProgress` (server/shared/progress.ts) over a bus of its own here: what a subscriber of a
 * run or an upload relies on — its first state, then every event in publishing order, the end
 * after a terminal one — and that an unsubscribe removes the bus listener at once, also while
 * the stream is waiting for an event.
 */
interface Ev {
  n: number;
  done?: boolean;
}

function fakeBus() {
  const listeners = new Set<Listener<Ev>>();
  const resyncs = new Set<() => void>();
  const bus = {
    listen: (_kind: unknown, _id: string, l: Listener<Ev>) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    onResync: (l: () => void) => {
      resyncs.add(l);
      return () => resyncs.delete(l);
    },
  } as unknown as PubSub;
  return {
    bus,
    listeners,
    publish: (e: Ev) => {
      for (const l of [...listeners]) l.event(e);
    },
    resync: () => {
      for (const r of [...resyncs]) r();
    },
  };
}

function stream(b: ReturnType<typeof fakeBus>, current: () => Promise<Ev>, quietResyncMs = 60_000) {
  return liveProgress({
    pubsub: b.bus,
    kind: 'syncRun' as never,
    id: 'x',
    current: current as never,
    isTerminal: (e) => (e as unknown as Ev).done === true,
    map: (e) => (e as unknown as Ev).n,
    quietResyncMs,
  });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('liveProgress', () => {
  it('gives the first state, then events published meanwhile and after, in order, and ends after a terminal one', async () => {
    const b = fakeBus();
    let readFirst!: (e: Ev) => void;
    const s = stream(b, () => new Promise((r) => (readFirst = r)));
    const first = s.next();
    await tick();
    // Published while the first state is read: kept, after it.
    b.publish({ n: 2 });
    b.publish({ n: 3 });
    readFirst({ n: 1 });
    expect(await first).toEqual({ done: false, value: 1 });
    expect(await s.next()).toEqual({ done: false, value: 2 });
    expect(await s.next()).toEqual({ done: false, value: 3 });
    const waiting = s.next();
    b.publish({ n: 4, done: true });
    expect(await waiting).toEqual({ done: false, value: 4 });
    expect(b.listeners.size).toBe(0);
    b.publish({ n: 5 });
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  it('a terminal first state ends the stream after it', async () => {
    const b = fakeBus();
    const s = stream(b, async () => ({ n: 1, done: true }));
    expect(await s.next()).toEqual({ done: false, value: 1 });
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(b.listeners.size).toBe(0);
  });

  it('return() removes the bus listener at once, also while next() waits for an event', async () => {
    const b = fakeBus();
    const s = stream(b, async () => ({ n: 1 }));
    await s.next();
    const waiting = s.next();
    expect(b.listeners.size).toBe(1);
    await s.return!();
    expect(b.listeners.size).toBe(0);
    expect(await waiting).toEqual({ done: true, value: undefined });
  });

  it('re-reads on a resync: a changed state is yielded, an unchanged one not, one overtaken by an event dropped', async () => {
    const b = fakeBus();
    const states: Ev[] = [{ n: 1 }];
    let pendingRead: ((e: Ev) => void) | null = null;
    const s = stream(b, () => {
      const next = states.shift();
      return next ? Promise.resolve(next) : new Promise((r) => (pendingRead = r));
    });
    expect((await s.next()).value).toBe(1);
    // Unchanged: nothing.
    let waiting = s.next();
    states.push({ n: 1 });
    b.resync();
    await tick();
    // Overtaken: the event comes while the re-read is out; the read's older state is dropped.
    b.resync();
    await tick();
    b.publish({ n: 3 });
    expect((await waiting).value).toBe(3);
    pendingRead!({ n: 2 });
    await tick();
    // Changed: yielded.
    waiting = s.next();
    states.push({ n: 7 });
    b.resync();
    expect((await waiting).value).toBe(7);
    await s.return!();
  });

  it('re-reads after waiting quietResyncMs without events', async () => {
    const b = fakeBus();
    const states: Ev[] = [{ n: 1 }, { n: 1 }, { n: 2, done: true }];
    const s = stream(b, async () => states.shift() ?? { n: 2, done: true }, 20);
    expect((await s.next()).value).toBe(1);
    expect(await s.next()).toEqual({ done: false, value: 2 });
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(b.listeners.size).toBe(0);
  });
});
