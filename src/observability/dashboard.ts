/**
 * The dashboard under `/dashboard` (opt-in: DASHBOARD_ENABLED): bull-board for the queue, and
 * `/dashboard/results` (results-page.ts) with the postgres sink. bull-board runs read-only (the server has
 * no login: a dashboard reachable by mistake must not delete, retry or promote jobs), and every string it
 * answers loses its URL query strings: a `url` source carries a signed URL (docs/contract.md §1).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Router } from 'express';
import { redactUrlsIn } from '../storage/redact.js';
import { readResults, renderResultsPage, type ResultsSource } from './results-page.js';

export interface DashboardOptions {
  queue: Queue;
  /** Where the health server mounts the router; bull-board builds its links from it. */
  basePath: string;
  /** The postgres sink's pool and table; without it, /results says that no table is configured. */
  results?: ResultsSource;
}

export function createDashboard(options: DashboardOptions): Router {
  const router = express.Router();
  // Only our own inline styles; no script, no outside resource on the results page.
  router.get('/results', async (req, res) => {
    res.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'");
    if (!options.results) {
      res.status(404).type('text/plain').send('results need the postgres sink (RESULT_SINKS=postgres)');
      return;
    }
    const status = req.query.status === 'ok' || req.query.status === 'failed' ? req.query.status : undefined;
    const view = await readResults(options.results, status);
    res.type('html').send(renderResultsPage(view, options.queue.name, status));
  });

  const board = new ExpressAdapter();
  board.setBasePath(options.basePath);
  createBullBoard({
    queues: [new BullMQAdapter(options.queue, { readOnlyMode: true, allowRetries: false })],
    serverAdapter: board,
    options: {
      uiConfig: { boardTitle: 'asset-metadata' },
      handlerHooks: { after: (_context, result) => redactUrlsDeep(result) as typeof result },
    },
  });
  router.use(board.getRouter() as Router);
  return router;
}

/** A copy of a JSON-shaped value with the query string of every URL inside its strings redacted. */
function redactUrlsDeep(value: unknown): unknown {
  if (typeof value === 'string') return redactUrlsIn(value);
  if (Array.isArray(value)) return value.map(redactUrlsDeep);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactUrlsDeep(v)]));
  }
  return value;
}
