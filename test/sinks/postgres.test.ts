/**
 * The postgres sink against a real server: the newest result of an asset wins whatever order the saves
 * arrive in, tables of the older shape are migrated, and the prepared statement's name fits PostgreSQL's
 * 63-byte identifiers whatever the schema's length.
 */
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AssetResult } from '../../src/contract.js';
import { createPostgresSink } from '../../src/sinks/postgres.js';
import { databaseUrl, dropSchema, queryRows, uniqueName } from '../helpers/services.js';

const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
});

async function sinkIn(schema: string) {
  schemas.push(schema);
  const sink = createPostgresSink({ url: databaseUrl, schema });
  await sink.init();
  return sink;
}

/** A result whose text section's line count tells which save it came from. */
const result = (assetId: string, lineCount: number): AssetResult => ({
  schemaVersion: 1,
  assetId,
  status: 'ok',
  dataType: 'text',
  text: { encoding: 'utf-8', bom: false, charCount: lineCount * 2, lineCount, format: 'plain' },
  timingsMs: { sign: 0, download: 0, extract: 0, total: 0 },
  processedAt: new Date().toISOString(),
});

async function lineCountOf(schema: string, assetId: string): Promise<number> {
  const rows = await queryRows<{ result: AssetResult }>(`SELECT result FROM ${pg.escapeIdentifier(schema)}.asset_metadata WHERE asset_id = $1`, [assetId]);
  expect(rows).toHaveLength(1);
  return rows[0]!.result.text!.lineCount;
}

describe('postgres sink: the newest result wins', () => {
  const t0 = Date.UTC(2026, 0, 1);

  it('an older job saved after a newer one leaves the row alone; the same job saving again overwrites', async () => {
    const schema = uniqueName('t_pgorder');
    const sink = await sinkIn(schema);
    try {
      await sink.save(result('a', 2), { attempt: 1, order: { enqueuedAt: t0 + 2 } });
      await sink.save(result('a', 1), { attempt: 1, order: { enqueuedAt: t0 + 1 } });
      expect(await lineCountOf(schema, 'a')).toBe(2);
      // The same job (same enqueue time) saving again, e.g. a retry after a sink outage: it overwrites.
      await sink.save(result('a', 3), { attempt: 2, order: { enqueuedAt: t0 + 2 } });
      expect(await lineCountOf(schema, 'a')).toBe(3);
      await sink.save(result('a', 4), { attempt: 1, order: { enqueuedAt: t0 + 3 } });
      expect(await lineCountOf(schema, 'a')).toBe(4);
    } finally {
      await sink.close();
    }
  });

  it('saves that arrive together are written together: every one resolves, one row an asset, the newest wins', async () => {
    const schema = uniqueName('t_pgbatch');
    const sink = await sinkIn(schema);
    const queries = vi.spyOn(sink.pool, 'query');
    try {
      // 30 assets at once, and two more saves of asset b0 in the same moment: the newest (enqueued at
      // t0 + 5) must win even though it is not the last to arrive.
      await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => sink.save(result(`b${i}`, i + 1), { attempt: 1, order: { enqueuedAt: t0 } })),
        sink.save(result('b0', 100), { attempt: 1, order: { enqueuedAt: t0 + 5 } }),
        sink.save(result('b0', 50), { attempt: 1, order: { enqueuedAt: t0 + 1 } }),
      ]);
      // The first save goes alone; the 31 that came while it ran share statements: fewer than one each.
      expect(queries.mock.calls.length).toBeLessThan(10);
      const rows = await queryRows<{ n: string }>(`SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema)}.asset_metadata`);
      expect(Number(rows[0]!.n)).toBe(30);
      expect(await lineCountOf(schema, 'b0')).toBe(100);
      expect(await lineCountOf(schema, 'b29')).toBe(30);
    } finally {
      queries.mockRestore();
      await sink.close();
    }
  });

  it('a version outranks the enqueue time, and a job with a version outranks one without', async () => {
    const schema = uniqueName('t_pgver');
    const sink = await sinkIn(schema);
    try {
      await sink.save(result('v', 1), { attempt: 1, order: { version: 7, enqueuedAt: t0 } });
      // Enqueued later but of an older version: refused.
      await sink.save(result('v', 2), { attempt: 1, order: { version: 6, enqueuedAt: t0 + 1_000 } });
      expect(await lineCountOf(schema, 'v')).toBe(1);
      // No version at all: refused by a row that has one.
      await sink.save(result('v', 3), { attempt: 1, order: { enqueuedAt: t0 + 2_000 } });
      expect(await lineCountOf(schema, 'v')).toBe(1);
      await sink.save(result('v', 4), { attempt: 1, order: { version: 8, enqueuedAt: t0 - 1_000 } });
      expect(await lineCountOf(schema, 'v')).toBe(4);
      const [row] = await queryRows<{ job_version: string; enqueued_at: Date }>(
        `SELECT job_version, enqueued_at FROM ${pg.escapeIdentifier(schema)}.asset_metadata WHERE asset_id = 'v'`,
      );
      expect(row).toEqual({ job_version: '8', enqueued_at: new Date(t0 - 1_000) });
    } finally {
      await sink.close();
    }
  });

  it('a table of the older shape is migrated: its unordered row loses to any new result', async () => {
    const schema = uniqueName('t_pgmig');
    schemas.push(schema);
    const s = pg.escapeIdentifier(schema);
    await queryRows(`CREATE SCHEMA ${s}`);
    // The table as the sink made it before results were ordered.
    await queryRows(`CREATE TABLE ${s}.asset_metadata (
      asset_id text PRIMARY KEY, status text NOT NULL CHECK (status IN ('ok', 'failed')), data_type text,
      error_code text, sha256 text, size_bytes bigint, result jsonb NOT NULL,
      attempts integer NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now())`);
    await queryRows(`INSERT INTO ${s}.asset_metadata (asset_id, status, result) VALUES ('old', 'ok', $1)`, [JSON.stringify(result('old', 1))]);
    const sink = await sinkIn(schema);
    try {
      await sink.save(result('old', 2), { attempt: 1, order: { enqueuedAt: t0 } });
      expect(await lineCountOf(schema, 'old')).toBe(2);
      await sink.save(result('old', 3), { attempt: 1, order: { enqueuedAt: t0 - 1 } });
      expect(await lineCountOf(schema, 'old')).toBe(2);
    } finally {
      await sink.close();
    }
  });
});

describe('postgres sink: the prepared statement', () => {
  it('has a name of at most 63 bytes for a 63-character schema, PostgreSQL keeps it whole', async () => {
    // 63 characters, the longest identifier PostgreSQL keeps.
    const schema = `${uniqueName('t_long')}_${'s'.repeat(63)}`.slice(0, 63);
    expect(schema).toHaveLength(63);
    schemas.push(schema);
    // One connection, so that the statements it prepared can be listed from it.
    const sink = createPostgresSink({ url: databaseUrl, schema, poolSize: 1 });
    await sink.init();
    const warn = vi.spyOn(console, 'error');
    try {
      await sink.save(result('long', 1), { attempt: 1 });
      await sink.save(result('long', 2), { attempt: 1 });
      expect(await lineCountOf(schema, 'long')).toBe(2);
      const { rows } = await sink.pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      expect(rows).toHaveLength(1);
      expect(Buffer.byteLength(rows[0]!.name)).toBeLessThanOrEqual(63);
      expect(warn.mock.calls.map((c) => String(c[0]))).not.toContainEqual(expect.stringContaining('63 characters'));
    } finally {
      warn.mockRestore();
      await sink.close();
    }
  });
});
