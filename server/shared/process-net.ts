import type { Logger } from './logger.js';

export interface ProcessNet {
  /** How often the net caught something since it was installed (tests assert 0). */
  readonly caught: number;
  /**
   * What it caught, as `kind: name code message` lines (at most the last 20, no stack or
   * statement values), so a test that finds `caught` above 0 can say what escaped.
   */
  readonly seen: readonly string[];
}

const INSTALLED = Symbol.for('roster.processNet');

/**
 * The last line of defence: an unhandled rejection or uncaught exception is logged (through
 * the logger's error serializer, so without statement values) instead of ending the process.
 * Every background promise in the server is handled where it starts (job queue, scheduler,
 * pubsub, housekeeping, progress publishing); reaching this net is a bug to fix, but one
 * dropped database connection must not take every request and job of the replica down with it.
 * Installed once per process (main.ts, and the test harness, which counts what it caught).
 */
export function installProcessNet(log: Logger): ProcessNet {
  const holder = globalThis as { [INSTALLED]?: ProcessNet & { caught: number; seen: string[] } };
  const existing = holder[INSTALLED];
  if (existing) return existing;
  const net = { caught: 0, seen: [] as string[] };
  holder[INSTALLED] = net;
  const remember = (kind: string, err: unknown) => {
    const e = err as { name?: unknown; code?: unknown; message?: unknown } | undefined;
    net.seen.push(`${kind}: ${String(e?.name ?? typeof err)} ${String(e?.code ?? '')} ${String(e?.message ?? err).slice(0, 200)}`);
    if (net.seen.length > 20) net.seen.shift();
  };
  process.on('unhandledRejection', (reason) => {
    net.caught++;
    remember('unhandledRejection', reason);
    log.error({ err: reason }, 'unhandled promise rejection (kept running)');
  });
  process.on('uncaughtException', (err, origin) => {
    net.caught++;
    remember(origin, err);
    log.fatal({ err, origin }, 'uncaught exception (kept running)');
  });
  return net;
}
