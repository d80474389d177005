/** The `postgres` sink: one row an asset in `asset_metadata` (contract §3), the newest result kept; migrated on start. */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { ResultSinkUnavailableError, messageOf } from '../errors.js';
import type { ResultSink } from './sink.js';

/** Serialises migrations of replicas that start together (an arbitrary, fixed 64-bit key). */
const migrationLockKey = 7_301_554_219n;

/** Rows in one upsert at most: a statement stays well under the statement timeout. */
const maxBatchRows = 100;

interface Queued {
  /** The columns under short keys, and the result itself (r), as the upsert reads them. */
  row: { a: string } & Record<string, unknown>;
  resolve(): void;
  reject(err: unknown): void;
}

export interface PostgresSinkOptions {
  url: string;
  schema: string;
  /** Connections per replica: saves are short; a few suffice for any concurrency. */
  poolSize?: number;
}

export function createPostgresSink(options: PostgresSinkOptions): ResultSink & { pool: pg.Pool; table: string } {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A statement that hangs (a lock, a dying server) must not hold the job forever.
    statement_timeout: 15_000,
  });
  // An idle client's connection dropping (server restart) must not crash the process.
  pool.on('error', () => {});
  const schema = pg.escapeIdentifier(options.schema);
  const table = `${schema}.asset_metadata`;

  // The saves that arrive while an upsert runs go together in the next, as one JSON array unpacked by the
  // server: one named statement whatever the number of rows (its name a digest of the table, to fit the
  // 63-byte identifiers). The WHERE keeps the newest result: the higher version, then the later enqueue
  // (equal: the same job saving again, which overwrites); a row without an order loses to any result.
  const upsertName = `asset-metadata-upsert-${createHash('sha256').update(table).digest('hex').slice(0, 16)}`;
  const upsertText = `INSERT INTO ${table} AS cur
      (asset_id, status, data_type, error_code, sha256, size_bytes, result, attempts, job_version, enqueued_at, updated_at)
    SELECT r->>'a', r->>'s', r->>'d', r->>'e', r->>'h', (r->>'b')::bigint, r->'r', (r->>'n')::int, (r->>'v')::bigint,
           COALESCE(to_timestamp((r->>'q')::float8 / 1000), now()), now()
      FROM jsonb_array_elements($1::jsonb) AS r
    ON CONFLICT (asset_id) DO UPDATE SET
      status = EXCLUDED.status, data_type = EXCLUDED.data_type, error_code = EXCLUDED.error_code,
      sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, result = EXCLUDED.result,
      attempts = EXCLUDED.attempts, job_version = EXCLUDED.job_version, enqueued_at = EXCLUDED.enqueued_at,
      updated_at = now()
    WHERE (COALESCE(EXCLUDED.job_version, -1), EXCLUDED.enqueued_at)
       >= (COALESCE(cur.job_version, -1), COALESCE(cur.enqueued_at, '-infinity'::timestamptz))`;
  let queued: Queued[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (queued.length) {
      // One statement cannot update a row twice: a second save of the same asset waits for the next one.
      const ids = new Set<string>();
      const batch = queued.filter((q) => !ids.has(q.row.a) && ids.add(q.row.a) && ids.size <= maxBatchRows);
      queued = queued.filter((q) => !batch.includes(q));
      try {
        await pool.query({ name: upsertName, text: upsertText, values: [JSON.stringify(batch.map((q) => q.row))] });
        for (const q of batch) q.resolve();
      } catch (err) {
        for (const q of batch) q.reject(err);
      }
    }
    flushing = false;
  };

  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new ResultSinkUnavailableError(`postgres ${what} failed: ${messageOf(err)}`, { cause: err });
    }
  };

  return {
    name: 'postgres',
    pool,
    table,
    // One query of several statements runs as one transaction: the advisory lock serialises replicas that
    // start together. Tables made before results were ordered get the order's columns, empty: any new
    // result wins over their rows.
    init: () =>
      wrap('migration', async () => {
        await pool.query(`
          SELECT pg_advisory_xact_lock(${migrationLockKey});
          CREATE SCHEMA IF NOT EXISTS ${schema};
          CREATE TABLE IF NOT EXISTS ${table} (
            asset_id    text PRIMARY KEY,
            status      text NOT NULL CHECK (status IN ('ok', 'failed')),
            data_type   text,
            error_code  text,
            sha256      text,
            size_bytes  bigint,
            result      jsonb NOT NULL,
            attempts    integer NOT NULL DEFAULT 1,
            job_version bigint,
            enqueued_at timestamptz,
            updated_at  timestamptz NOT NULL DEFAULT now()
          );
          ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS job_version bigint, ADD COLUMN IF NOT EXISTS enqueued_at timestamptz;
          CREATE INDEX IF NOT EXISTS asset_metadata_updated_at ON ${table} (updated_at DESC);
          CREATE INDEX IF NOT EXISTS asset_metadata_error_code ON ${table} (error_code) WHERE error_code IS NOT NULL;`);
      }),
    save: (result, ctx) =>
      wrap('save', () =>
        new Promise<void>((resolve, reject) => {
          const row = { a: result.assetId, s: result.status, d: result.dataType, e: result.error?.code, h: result.sha256, b: result.sizeBytes, r: result, n: ctx.attempt, v: ctx.order?.version, q: ctx.order?.enqueuedAt };
          queued.push({ row, resolve, reject });
          if (!flushing) void flush();
        }),
      ),
    close: () => pool.end(),
  };
}
