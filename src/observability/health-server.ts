/** The operator's HTTP server (contract §6): `/healthz`, `/readyz` (readiness.ts), `/metrics`, and `/dashboard` when enabled. */
import express, { type Router } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import type { Readiness } from './readiness.js';

export interface HealthServerOptions {
  host: string;
  /** 0 binds an ephemeral port (tests); the bound one is in the returned `port`. */
  port: number;
  readiness(): Promise<Readiness>;
  metrics: { render(): Promise<{ contentType: string; body: string }> };
  /** Mounted at `/dashboard` when given. */
  dashboard?: Router;
  logger: Logger;
}

/** Resolves once listening, with the bound address and its `http://host:port` URL. */
export async function startHealthServer(options: HealthServerOptions) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const noStore: express.RequestHandler = (_req, res, next) => {
    res.set('cache-control', 'no-store');
    next();
  };

  app.get('/healthz', noStore, (_req, res) => void res.json({ status: 'alive' }));
  app.get('/readyz', noStore, async (_req, res) => {
    const readiness = await options.readiness();
    res.status(readiness.ready ? 200 : 503).json(readiness);
  });
  app.get('/metrics', noStore, async (_req, res) => {
    const { contentType, body } = await options.metrics.render();
    res.type(contentType).send(body);
  });
  if (options.dashboard) app.use('/dashboard', noStore, options.dashboard);
  app.use((_req, res) => void res.status(404).json({ error: 'not found' }));
  // Express 5 hands rejected handlers here; the message is ours, never a stack, on an open port.
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    options.logger.error({ err }, 'health server request failed');
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port, options.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${hostForUrl}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections of scrapers and browsers would hold close() open.
        server.closeAllConnections();
      }),
  };
}
