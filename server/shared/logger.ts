import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Anything that could carry a secret is redacted at the logger, so a
 * careless `log.info({ input })` cannot leak a password or token.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'roster' },
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
  });
}
