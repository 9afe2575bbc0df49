import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SyncedCache } from 'synced-cache';
import { describe } from '../check.js';
import { type CachedResponse, type Resolved, type ResponseCacheOptions, resolve, SCOPE } from './express-options.js';
import { answers, isCachedResponse, type Keyed, keyOf, storable, withUnoptedCredentials } from './express-sharing.js';

export {
  type AuthorizedCacheKey,
  type CachedResponse,
  type OptInCacheKey,
  RESPONSE_CACHE_DEFAULTS,
  type ResponseCacheKey,
  type ResponseCacheOptions,
} from './express-options.js';
export { responseCacheKey } from './express-sharing.js';

// Not stored: they describe one connection or one transfer, and are recomputed on each hit.
const UNSTORED_HEADERS = new Set([
  'connection',
  'content-length',
  'date',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-cache',
]);

type Chunk = string | Uint8Array;
type WriteCallback = (error?: Error | null) => void;

function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}

function snapshotHeaders(res: Response): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const headers = res.getHeaders();
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || UNSTORED_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

// Decoding base64 on every hit would allocate; entries served from the memory tier are the same object each
// time, so the decoded body is remembered per entry object and goes away with it.
const decoded = new WeakMap<CachedResponse, Buffer>();

function bodyOf(entry: CachedResponse): Buffer {
  let body = decoded.get(entry);
  if (body === undefined) {
    body = Buffer.from(entry.body, 'base64');
    decoded.set(entry, body);
  }
  return body;
}

function serveHit(req: Request, res: Response, entry: CachedResponse): void {
  const body = bodyOf(entry);
  res.status(entry.status);
  for (const name of Object.keys(entry.headers)) {
    const value = entry.headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
  res.setHeader('X-Cache', 'HIT');
  // The client's copy is still current (its If-None-Match / If-Modified-Since match the stored validators).
  if (req.fresh) {
    res.status(304);
    res.removeHeader('Content-Type');
    res.end();
    return;
  }
  res.setHeader('Content-Length', body.length);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * Wraps `res.write`/`res.end` to copy the body as it is sent, and stores the response once it has finished.
 * Nothing here waits on the store: the write starts after 'finish', when the client has the whole response.
 */
function capture(
  req: Request,
  res: Response,
  store: (entry: CachedResponse) => Promise<void>,
  resolved: Resolved,
  report: (error: unknown) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  const keep = (chunk: unknown, encoding: unknown): void => {
    if (overflow) return;
    const buffer = toBuffer(chunk, encoding);
    if (buffer === undefined) return;
    size += buffer.length;
    if (size > resolved.maxBodyBytes) {
      overflow = true;
      chunks.length = 0;
      return;
    }
    // Copied: a caller may reuse the memory of a Uint8Array it has written.
    chunks.push(Buffer.from(buffer));
  };

  const write = res.write;
  const end = res.end;
  res.write = function (this: Response, chunk: Chunk, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    keep(chunk, encoding);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, encoding, cb);
  } as Response['write'];
  res.end = function (this: Response, chunk?: Chunk | (() => void), encoding?: BufferEncoding | (() => void), cb?: () => void): Response {
    if (typeof chunk !== 'function') keep(chunk, encoding);
    return (end as (...args: unknown[]) => Response).call(this, chunk, encoding, cb);
  } as Response['end'];

  // 'finish' only fires once the whole response was handed to the OS, so an aborted or failed response,
  // whose body may be cut short, is never stored.
  res.once('finish', () => {
    // A throw in an event listener would be an uncaught exception: it takes the process down.
    try {
      if (overflow || !storable(res, resolved)) return;
      const entry: CachedResponse = {
        v: 1,
        url: req.originalUrl,
        status: res.statusCode,
        headers: snapshotHeaders(res),
        body: Buffer.concat(chunks, size).toString('base64'),
      };
      store(entry).then(undefined, report);
    } catch (error) {
      report(error);
    }
  });
}

/** Calls `onError`; a promise it returns is not awaited, and must not become an unhandled rejection. */
function callOnError(onError: ((error: unknown, req: Request) => void) | undefined, error: unknown, req: Request): void {
  const result: unknown = onError?.(error, req);
  if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, () => {});
}

/**
 * Express middleware that caches GET responses in a {@link SyncedCache}, so that every process serves a
 * route from its memory tier until the route's key is deleted (from any process) or its ttl runs out.
 *
 * - Never one caller's response for another: requests with an `Authorization` or a `Cookie` header pass
 *   by the cache (no `X-Cache` header), unless the key function opts them in (`{ key, allowAuthorization:
 *   true }`, `{ key, allowCookies: true }`) or every cookie is named in `ignoreCookies`. A response whose
 *   `Vary` names a request header the key does not tell apart is not stored (see `keyedHeaders`).
 * - GET and HEAD only; other methods pass straight through. HEAD is answered from the GET entry and never
 *   stores one (Express sends no body for HEAD, so there is nothing complete to store).
 * - Stored: responses with a status in `statuses` (default 200). Never stored: responses with `Set-Cookie`,
 *   `Cache-Control: no-store`, `private` or `no-cache`, `Vary: *`, bodies over `maxBodyBytes`, and responses
 *   that did not finish.
 * - Hits are sent with the stored status, headers and body and `X-Cache: HIT`; requests that reach the route
 *   get `X-Cache: MISS`. A hit whose validators match the request's `If-None-Match`/`If-Modified-Since`
 *   is answered 304.
 * - The key is `responseCacheKey(req.method, req.originalUrl)` unless `key` is given; invalidate with
 *   `cache.delete(responseCacheKey('GET', url))` in any process. Spellings of a path that share that key
 *   (`/users/1`, `/Users/1/`) never get each other's response: a hit needs the path spelled as it was.
 * - The middleware waits for nothing but the cache's `get`; the store write after a miss starts once the
 *   response has been sent, and its failure only reaches `onError`.
 *
 * The cache should be one for responses only (or at least keep other keys out of the `response:` prefix):
 * a value under a response key that is not a cached response is treated as a miss and overwritten.
 */
export function cacheResponses(cache: SyncedCache<unknown>, options: ResponseCacheOptions = {}): RequestHandler {
  const c = cache as unknown;
  // Duck-typed rather than instanceof: the ESM and CommonJS builds each have their own SyncedCache class.
  if (typeof c !== 'object' || c === null || typeof (c as SyncedCache).get !== 'function' || typeof (c as SyncedCache).set !== 'function') {
    throw new TypeError(`${SCOPE}: cacheResponses(cache): cache must be a SyncedCache, got ${describe(c)}`);
  }
  const resolved = resolve(options);
  const setOptions = resolved.ttl === undefined ? undefined : { ttl: resolved.ttl };

  return function cacheResponsesMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    let keyed: Keyed | undefined;
    try {
      keyed = keyOf(req, resolved);
    } catch (error) {
      next(error);
      return;
    }
    if (keyed === undefined || withUnoptedCredentials(req, keyed, resolved)) {
      next();
      return;
    }
    const { key } = keyed;

    const report = (error: unknown): void => {
      try {
        callOnError(resolved.onError, error, req);
      } catch {
        // The response is already sent; nothing is left to tell.
      }
    };

    cache
      .get(key)
      .then(
        (value) => {
          if (isCachedResponse(value) && answers(value, key, req)) {
            serveHit(req, res, value);
            return;
          }
          res.setHeader('X-Cache', 'MISS');
          if (req.method === 'GET') capture(req, res, (entry) => cache.set(key, entry, setOptions), resolved, report);
          next();
        },
        (error: unknown) => {
          try {
            callOnError(resolved.onError, error, req);
          } catch (thrown) {
            next(thrown);
            return;
          }
          res.setHeader('X-Cache', 'MISS');
          next();
        },
      )
      // Only a throw while sending a hit lands here (e.g. a stored header Node refuses).
      .catch(next);
  };
}
