import { AnyViewer } from '../../shared/scopes.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Arg, Field, Int, ObjectType, Resolver, Root, Subscription } from 'type-graphql';

@ObjectType({ description: 'A liveness tick of a subscription connection.' })
export class Heartbeat {
  @Field(() => Int, { description: 'Sequence number, from 1.' })
  seq!: number;

  @Field(() => Date, { description: 'Server time of the tick.' })
  at!: Date;
}

@Resolver()
export class SystemResolver {
  @AnyViewer()
  @Subscription(() => Heartbeat, {
    description:
      'Ticks every `intervalMs` (100–60000 ms, default 1000) while subscribed; `count` ends the stream after that many. Lets a client verify its authenticated websocket end to end.',
    subscribe: ({ args }) => heartbeats(args as { intervalMs?: number; count?: number }),
  })
  heartbeat(
    @Root() tick: Heartbeat,
    @Arg('intervalMs', () => Int, { nullable: true, description: 'Milliseconds between ticks.' }) _intervalMs?: number,
    @Arg('count', () => Int, { nullable: true, description: 'Number of ticks before the stream completes.' }) _count?: number,
  ): Heartbeat {
    return tick;
  }
}

async function* heartbeats(args: { intervalMs?: number; count?: number }): AsyncGenerator<Heartbeat> {
  const interval = Math.min(Math.max(args.intervalMs ?? 1000, 100), 60_000);
  const count = args.count ?? Number.POSITIVE_INFINITY;
  for (let seq = 1; seq <= count; seq++) {
    yield { seq, at: new Date() };
    if (seq < count) await sleep(interval);
  }
}
