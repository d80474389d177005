/** JSON lines with pino. No signed URL, token or secret reaches a line: fields redacted by path, URL queries cut. */
import { pino, type Logger } from 'pino';
import { redactUrlsIn } from '../storage/redact.js';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'asset-metadata-worker', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'url', '*.url', 'source.url', '*.source.url', 'job.source.url',
          'token', '*.token', 'secret', '*.secret', 'password', '*.password',
          'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
          'accessKeyId', 'secretAccessKey', '*.secretAccessKey', 'credentials', '*.credentials',
        ],
        censor: '[redacted]',
      },
      formatters: {
        log(object) {
          return scrub(object) as Record<string, unknown>;
        },
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redactUrlsIn(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}

/** Every string value loses URL query strings (messages, stacks); an object is copied only where one changes. */
function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlsIn(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactUrlsIn(value.message), stack: value.stack && redactUrlsIn(value.stack) };
  }
  let out: Record<string, unknown> | unknown[] | undefined;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    const scrubbed = scrub(v, depth + 1);
    if (scrubbed !== v) (out ??= Array.isArray(value) ? [...value] : { ...value })[key as never] = scrubbed as never;
  }
  return out ?? value;
}
