// An Express app on a loopback port and plain HTTP calls to it, for the response cache's tests.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { SyncedCache, type SyncedCacheOptions } from 'synced-cache';
import { onTestFinished } from 'vitest';

export interface Served {
  base: string;
  /** Calls per route handler, by path. */
  calls: Map<string, number>;
  /** Errors that reached the app's error handler. */
  errors: unknown[];
}

/** An Express app listening on 127.0.0.1, closed when the test ends. `routes` adds the routes. */
export async function serve(routes: (app: Express, count: (req: Request) => void) => void): Promise<Served> {
  const app = express();
  const calls = new Map<string, number>();
  const errors: unknown[] = [];
  routes(app, (req) => calls.set(req.path, (calls.get(req.path) ?? 0) + 1));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    res.status(500).send('server error');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, errors };
}

/** A SyncedCache closed when the test ends. */
export function newCache(options?: SyncedCacheOptions): SyncedCache {
  const cache = new SyncedCache(options);
  onTestFinished(() => cache.close());
  return cache;
}

/** The response headers that describe the response (not the connection or the moment), for comparing two responses. */
export function headersOf(res: globalThis.Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'date' && name !== 'x-cache' && name !== 'keep-alive' && name !== 'connection') out[name] = value;
  });
  return out;
}

export async function get(url: string, init?: RequestInit): Promise<{ res: globalThis.Response; body: Buffer }> {
  const res = await fetch(url, init);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

export interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * A plain node:http GET, with the path sent exactly as given. fetch adds `Cache-Control: no-cache` to
 * conditional requests (which defeats 304s), and it normalizes the path (`%31`, `/./`) before sending it.
 */
export function rawGet(url: string, headers: Record<string, string> = {}, path?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    httpRequest({ host: target.hostname, port: target.port, path: path ?? `${target.pathname}${target.search}`, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}
