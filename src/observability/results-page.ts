/** `/dashboard/results`: latest results and failures by code, server-rendered, every database value HTML-escaped. */
import type pg from 'pg';

/** Rows on the page: a glance, not a search engine (bull-board and SQL are for more). */
export const latestResultsShown = 50;
/** Failures are counted over this window, served by the table's updated_at index. */
const failureWindowHours = 24;

export interface ResultsSource {
  pool: pg.Pool;
  /** The schema-qualified, already escaped table name (the postgres sink's `table`). */
  table: string;
}

interface ResultRow {
  asset_id: string;
  status: string;
  data_type: string | null;
  error_code: string | null;
  message: string | null;
  size_bytes: string | null;
  attempts: number;
  updated_at: Date;
}

export interface ResultsView {
  latest: ResultRow[];
  failures: { error_code: string; count: number }[];
  totals: { ok: number; failed: number };
}

export async function readResults(source: ResultsSource, status?: 'ok' | 'failed'): Promise<ResultsView> {
  const since = `now() - interval '${failureWindowHours} hours'`;
  const [latest, failures, totals] = await Promise.all([
    source.pool.query<ResultRow>(
      `SELECT asset_id, status, data_type, error_code, result->'error'->>'message' AS message, size_bytes, attempts, updated_at
         FROM ${source.table} WHERE ($1::text IS NULL OR status = $1) ORDER BY updated_at DESC LIMIT ${latestResultsShown}`,
      [status ?? null],
    ),
    source.pool.query<{ error_code: string; count: string }>(
      `SELECT error_code, count(*) AS count FROM ${source.table}
        WHERE status = 'failed' AND updated_at > ${since} GROUP BY error_code ORDER BY count(*) DESC, error_code`,
    ),
    source.pool.query<{ status: string; count: string }>(
      `SELECT status, count(*) AS count FROM ${source.table} WHERE updated_at > ${since} GROUP BY status`,
    ),
  ]);
  const total = (s: string) => Number(totals.rows.find((r) => r.status === s)?.count ?? 0);
  const failed = failures.rows.map((r) => ({ error_code: r.error_code ?? '(none)', count: Number(r.count) }));
  return { latest: latest.rows, failures: failed, totals: { ok: total('ok'), failed: total('failed') } };
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text and attribute values alike: the five characters HTML gives meaning to. */
const e = (value: unknown): string => String(value ?? '').replace(/[&<>"']/g, (c) => htmlEscapes[c]!);

export function renderResultsPage(view: ResultsView, queueName: string, status?: 'ok' | 'failed'): string {
  const failureRows = view.failures.length
    ? view.failures.map((f) => `<tr><td><code>${e(f.error_code)}</code></td><td class="n">${e(f.count)}</td></tr>`).join('')
    : '<tr><td colspan="2">no failures</td></tr>';
  const resultRows = view.latest.length
    ? view.latest
        .map(
          (r) => `<tr class="${r.status === 'ok' ? 'ok' : 'failed'}">
  <td class="id">${e(r.asset_id)}</td><td>${e(r.status)}</td><td>${e(r.data_type ?? '')}</td>
  <td><code>${e(r.error_code ?? '')}</code></td><td class="msg">${e(r.message ?? '')}</td>
  <td class="n">${e(r.size_bytes ?? '')}</td><td class="n">${e(r.attempts)}</td><td>${e(r.updated_at.toISOString())}</td></tr>`,
        )
        .join('\n')
    : '<tr><td colspan="8">no results yet</td></tr>';
  const filter = (s: 'ok' | 'failed' | undefined, label: string) =>
    s === status ? `<strong>${label}</strong>` : `<a href="results${s ? `?status=${s}` : ''}">${label}</a>`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>asset-metadata results</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin-bottom:1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.n{text-align:right}.id{font-family:monospace}.msg{max-width:40rem;word-break:break-word}
tr.failed td:nth-child(2){color:#b00020}tr.ok td:nth-child(2){color:#1b5e20}
nav a,nav strong{margin-right:.8rem}
</style></head>
<body>
<h1>asset-metadata results</h1>
<nav><a href="./">queue <code>${e(queueName)}</code> (bull-board)</a> · ${filter(undefined, 'all')}${filter('ok', 'ok')}${filter('failed', 'failed')}</nav>
<h2>Last ${failureWindowHours} hours</h2>
<p id="totals">ok: <span class="n">${e(view.totals.ok)}</span> · failed: <span class="n">${e(view.totals.failed)}</span></p>
<h2>Failures by error code (last ${failureWindowHours} hours)</h2>
<table id="failures"><thead><tr><th>error code</th><th>jobs</th></tr></thead><tbody>${failureRows}</tbody></table>
<h2>Latest ${latestResultsShown} results</h2>
<table id="latest"><thead><tr><th>asset id</th><th>status</th><th>data type</th><th>error code</th><th>message</th><th>bytes</th><th>attempts</th><th>updated</th></tr></thead>
<tbody>
${resultRows}
</tbody></table>
</body></html>
`;
}
