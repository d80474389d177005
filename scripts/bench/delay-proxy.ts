/**
 * A store that is far away: an HTTP proxy that holds each request `delayMs` before passing it on, unchanged
 * (the Host header too, so that a signed URL still verifies), to the dev S3 server. Keep-alive both ways.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DelayProxy {
  endpoint: string;
  close(): Promise<void>;
}

export async function startDelayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer(async (req, res) => {
    await sleep(delayMs);
    const forward = (again: boolean) => {
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      });
      // A kept-alive connection the server closed as it was reused (Node's documented race): a GET is sent
      // again, once, so that the stand-in's own hiccup is not counted as the replica's failed job.
      out.on('error', () => (!again && out.reusedSocket && !res.headersSent && req.method === 'GET' ? forward(true) : res.destroy()));
      if (again) out.end();
      else req.pipe(out);
    };
    forward(false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
