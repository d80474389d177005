/**
 * The `postgres` sink: one row per asset in `asset_metadata` (CONTRACT.md §3), upserted by asset id so a
 * replayed or retried job never makes a second row. The worker creates its table on start.
 */
import pg from 'pg';
import { ResultSinkUnavailableError, messageOf } from '../errors.js';
import type { ResultSink } from './sink.js';

/** Serialises migrations of replicas that start together (an arbitrary, fixed 64-bit key). */
const migrationLockKey = 7_301_554_219n;

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
    init: () =>
      wrap('migration', async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey.toString()]);
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
          await client.query(`
            CREATE TABLE IF NOT EXISTS ${table} (
              asset_id    text PRIMARY KEY,
              status      text NOT NULL CHECK (status IN ('ok', 'failed')),
              data_type   text,
              error_code  text,
              sha256      text,
              size_bytes  bigint,
              result      jsonb NOT NULL,
              attempts    integer NOT NULL DEFAULT 1,
              updated_at  timestamptz NOT NULL DEFAULT now()
            )`);
          await client.query(`CREATE INDEX IF NOT EXISTS asset_metadata_updated_at ON ${table} (updated_at DESC)`);
          await client.query(`CREATE INDEX IF NOT EXISTS asset_metadata_error_code ON ${table} (error_code) WHERE error_code IS NOT NULL`);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        } finally {
          client.release();
        }
      }),
    save: (result, ctx) =>
      wrap('save', async () => {
        // A named statement: each connection parses and plans it once, then only binds and executes it.
        await pool.query({
          name: `asset-metadata-upsert:${table}`,
          text: `INSERT INTO ${table} (asset_id, status, data_type, error_code, sha256, size_bytes, result, attempts, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
           ON CONFLICT (asset_id) DO UPDATE SET
             status = EXCLUDED.status, data_type = EXCLUDED.data_type, error_code = EXCLUDED.error_code,
             sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, result = EXCLUDED.result,
             attempts = EXCLUDED.attempts, updated_at = now()`,
          values: [
            result.assetId,
            result.status,
            result.dataType ?? null,
            result.error?.code ?? null,
            result.sha256 ?? null,
            result.sizeBytes ?? null,
            JSON.stringify(result),
            ctx.attempt,
          ],
        });
      }),
    close: () => pool.end(),
  };
}
