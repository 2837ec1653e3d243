import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Properties of database errors that carry the statement's values (a CSV with plaintext
 * passwords, a password hash, emails): drizzle's and PGlite's `params`, postgres.js's
 * `parameters`/`args`/`types`, and PostgreSQL's `detail` ("Failing row contains (…)") and
 * `where` (a trigger's or function's context). They are left out of every logged error.
 */
const VALUE_KEYS = new Set(['params', 'parameters', 'args', 'types', 'detail', 'where', 'queryOptions']);

/**
 * drizzle writes a failed statement as `Failed query: <sql>\nparams: <values>`: the SQL is
 * kept (its values are placeholders), the values are not.
 */
export function withoutParams(text: string): string {
  const at = text.indexOf('\nparams: ');
  return at < 0 ? text : `${text.slice(0, at)}\nparams: [redacted]`;
}

function isErrorLike(v: unknown): v is Error & Record<string, unknown> {
  return v instanceof Error || (typeof v === 'object' && v !== null && typeof (v as Error).message === 'string' && 'stack' in v);
}

/**
 * The `err` serializer: an error with its cause chain, message, stack and own properties,
 * minus the statement values above. Applied by the logger, so every `log.x({ err }, …)` —
 * GraphQL error masking, the HTTP error handler, the job queue, the jobs — is safe without
 * each call site remembering to clean its error.
 */
export function safeError(err: unknown, depth = 0): unknown {
  if (typeof err === 'string') return withoutParams(err);
  if (!isErrorLike(err)) return err;
  if (depth > 5) return { type: err.name, message: withoutParams(err.message) };
  const message = withoutParams(err.message);
  const out: Record<string, unknown> = {
    type: typeof err.constructor === 'function' ? err.constructor.name : err.name,
    message,
  };
  if (typeof err.stack === 'string') {
    // The stack starts with the message: replace it whole (a CSV parameter may hold newlines).
    out['stack'] = err.stack.includes(err.message) ? err.stack.split(err.message).join(message) : withoutParams(err.stack);
  }
  for (const key of Object.keys(err)) {
    if (key in out || VALUE_KEYS.has(key)) continue;
    const v = err[key];
    out[key] = isErrorLike(v) ? safeError(v, depth + 1) : typeof v === 'string' ? withoutParams(v) : v;
  }
  // `new Error(m, { cause })` makes a non-enumerable cause.
  if (err.cause !== undefined && !('cause' in out)) out['cause'] = safeError(err.cause, depth + 1);
  if (Array.isArray(err['errors'])) out['errors'] = (err['errors'] as unknown[]).map((e) => safeError(e, depth + 1));
  return out;
}

/**
 * Structured JSON logs. Anything that could carry a secret is redacted at the logger, so a
 * careless `log.info({ input })` cannot leak a password or token, and errors go through
 * `safeError`, so a failed statement's values (password hashes, CSV rows) never reach a log
 * line. `destination` is for tests that read what was logged.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'roster' },
      serializers: { err: safeError, error: safeError },
      hooks: {
        // `log.error(err)` without a message makes the error's message the line's `msg`.
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          if (first instanceof Error && typeof second !== 'string') {
            return method.apply(this, [{ err: first }, withoutParams(first.message)]);
          }
          return method.apply(this, args);
        },
      },
      redact: {
        paths: [
          'password',
          '*.password',
          '*.*.password',
          'token',
          '*.token',
          '*.*.token',
          'authorization',
          '*.authorization',
          'req.headers.authorization',
          'variables.input.password',
          'variables.password',
          'variables.token',
          'variables.input.token',
          'passwordHash',
          '*.passwordHash',
          'tokenHash',
          '*.tokenHash',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
