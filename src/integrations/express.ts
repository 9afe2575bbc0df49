import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SyncedCache } from 'synced-cache';
// A stateless leaf, bundled into this subpath: the core itself is only reached through 'synced-cache'.
import { checkDuration, checkKnownKeys, describe, fail, isObject } from '../check.js';

const SCOPE = 'synced-cache/express';

/**
 * A key that opts a request carrying credentials into the cache. Return it from a key function only when
 * the key tells callers apart (it contains the user id, say), or when the response is the same for
 * everyone: otherwise one user's response is served to another.
 */
export interface OptInCacheKey {
  key: string;
  /** Also cache requests with an `Authorization` header (never cached otherwise). @default false */
  allowAuthorization?: boolean;
  /** Also cache requests with a `Cookie` header, whatever cookies it holds (see `ignoreCookies`). @default false */
  allowCookies?: boolean;
}

/** An {@link OptInCacheKey} that caches requests with an `Authorization` header. */
export interface AuthorizedCacheKey {
  key: string;
  allowAuthorization: true;
}

/**
 * What a key function returns: the cache key, an {@link OptInCacheKey} to cache requests with an
 * `Authorization` or `Cookie` header, or `undefined` to leave this request uncached.
 */
export type ResponseCacheKey = string | OptInCacheKey | undefined;

/** Options of {@link cacheResponses}. Durations are milliseconds. */
export interface ResponseCacheOptions {
  /**
   * Time-to-live of a cached response, in whole milliseconds, in both tiers; `0`: no expiry.
   * One middleware instance per route gives each route its own ttl.
   * @default the cache's own `ttl`
   */
  ttl?: number;
  /**
   * Response status codes that are cached. Anything else (errors, redirects, 304, 206) is passed on uncached.
   * @default [200]
   */
  statuses?: readonly number[];
  /**
   * Computes the cache key of a GET or HEAD request. Return `undefined` to leave the request uncached, or
   * `{ key, allowAuthorization: true }` / `{ key, allowCookies: true }` to cache a request that carries an
   * `Authorization` / `Cookie` header (never cached otherwise). If it throws, the error goes to `next(err)`
   * and Express answers 500.
   * @default (req) => responseCacheKey(req.method, req.originalUrl)
   */
  key?: (req: Request) => ResponseCacheKey;
  /**
   * Names of cookies that never change the response (analytics, a consent flag): a request whose cookies
   * are all in this list is cached like one without cookies, and shares its entry. A request with any
   * other cookie passes by the cache (case-sensitive names, as browsers send them).
   * @default [] (a request with any cookie is not cached)
   */
  ignoreCookies?: readonly string[];
  /**
   * Request headers that the `key` function tells apart (it puts them, or what the route makes of them,
   * in the key). A response with `Vary` on one of them is stored; a `Vary` on any other request header
   * (but `Cookie`, `Authorization`, and `Accept-Encoding` over a body with no `Content-Encoding`) is not.
   * Needs `key`: the default key is the URL alone.
   * @default []
   */
  keyedHeaders?: readonly string[];
  /**
   * Largest body, in bytes, that is cached. A larger response (typically a streamed one) is still sent in
   * full, but not cached; buffering stops as soon as the limit is passed.
   * @default 1_048_576
   */
  maxBodyBytes?: number;
  /**
   * Called when the cache fails to read or write (the store is down, the cache is closed). The request is
   * then served by the route as if uncached. Without it, such failures are silent. If it throws while a
   * read failed, the thrown error goes to `next(err)`; a throw after a failed write is ignored, since the
   * response has already been sent. A promise it returns is not awaited, and its rejection is ignored.
   * @default undefined
   */
  onError?: (error: unknown, req: Request) => void;
}

/** A cached response as it is held in the cache: JSON-safe, so that any Keyv store and serializer can hold it. */
export interface CachedResponse {
  /** Format version, so that a later release can tell old entries apart. */
  v: 1;
  /**
   * The URL the response was stored from, as the client sent it (`req.originalUrl`). Under a key made by
   * {@link responseCacheKey}, a hit needs the same path, spelled the same way; entries written before this
   * field existed lack it and count as misses there.
   */
  url: string;
  status: number;
  /** Response headers, lower-cased names, without hop-by-hop headers and without `Content-Length`. */
  headers: Record<string, string | string[]>;
  /** The body bytes, base64. */
  body: string;
}

/** The defaults of {@link ResponseCacheOptions}. */
export const RESPONSE_CACHE_DEFAULTS = {
  statuses: [200],
  maxBodyBytes: 1_048_576,
  ignoreCookies: [],
  keyedHeaders: [],
} as const satisfies ResponseCacheOptions;

const OPTION_NAMES = ['ttl', 'statuses', 'key', 'ignoreCookies', 'keyedHeaders', 'maxBodyBytes', 'onError'] as const;

const KEY_PREFIX = 'response:';

const UNRESERVED_ESCAPE = /%(?:2[dDeE]|3\d|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;

/**
 * The one form of a request target's path that every spelling Express's default router sends to the
 * same route shares: unreserved characters unescaped (`%31` is `1`), letters in lower case (the router
 * ignores case), one trailing slash dropped (the router ignores it). The query string is kept byte for
 * byte. An absolute URL (`http://host/path`, as a proxy may send) keeps only its path and query.
 */
function canonicalUrl(url: string): string {
  let target = url;
  if (!target.startsWith('/')) {
    const origin = /^[a-zA-Z][a-zA-Z\d+.-]*:\/\/[^/?#]*/.exec(target);
    if (origin !== null) target = target.slice(origin[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  path = path.replace(UNRESERVED_ESCAPE, (e) => String.fromCharCode(Number.parseInt(e.slice(1), 16))).toLowerCase();
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path + query;
}

/**
 * The cache key of a route's response, the same in every process: `cache.delete(responseCacheKey('GET', '/users/1'))`
 * invalidates that response everywhere. HEAD maps to GET, since a HEAD request is answered from the GET response.
 * `url` is a path and query string (Express's `req.originalUrl`). Spellings of one path that Express routes
 * alike share the key: `/users/1`, `/Users/1`, `/users/%31` and `/users/1/` all give `response:GET /users/1`.
 * The query string is taken as it is: `?a=1&b=2` and `?b=2&a=1` are two keys.
 */
export function responseCacheKey(method: string, url: string): string {
  const m = method.toUpperCase();
  return `${KEY_PREFIX}${m === 'HEAD' ? 'GET' : m} ${canonicalUrl(url)}`;
}

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

const UNCACHEABLE_DIRECTIVE = /(?:^|,)\s*(?:no-store|private|no-cache)\s*(?:$|,|=)/i;

/** An HTTP token (RFC 9110 §5.6.2): what a header name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~\dA-Za-z]+$/;
const COOKIE_NAME = /^[^\s=;,]+$/;

interface Resolved {
  ttl: number | undefined;
  statuses: ReadonlySet<number>;
  key: ((req: Request) => ResponseCacheKey) | undefined;
  ignoreCookies: ReadonlySet<string>;
  /** Lower-cased. */
  keyedHeaders: ReadonlySet<string>;
  maxBodyBytes: number;
  onError: ((error: unknown, req: Request) => void) | undefined;
}

function names(option: string, value: unknown, what: string, pattern: RegExp, rule: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(SCOPE, option, `must be an array of ${what}`, value, TypeError);
  for (const name of value) {
    if (typeof name !== 'string' || !pattern.test(name) || name === '*') fail(SCOPE, option, rule, name, TypeError);
  }
  return value as readonly string[];
}

function resolve(options: ResponseCacheOptions): Resolved {
  const given: unknown = options;
  if (!isObject(given) || Array.isArray(given)) {
    throw new TypeError(`${SCOPE}: cacheResponses(cache, options): options must be an object, got ${describe(given)}`);
  }
  checkKnownKeys(SCOPE, '', given, OPTION_NAMES);
  const { statuses, key, ignoreCookies, keyedHeaders, maxBodyBytes, onError } = options;
  const ttl = checkDuration(SCOPE, 'ttl', options.ttl, { zero: 'no expiry', integer: true });
  if (statuses !== undefined) {
    if (!Array.isArray(statuses) || statuses.length === 0)
      fail(SCOPE, 'statuses', 'must be a non-empty array of HTTP status codes', statuses, TypeError);
    for (const s of statuses) {
      if (!Number.isInteger(s) || s < 100 || s > 599) fail(SCOPE, 'statuses', 'must hold whole numbers from 100 to 599', s);
    }
  }
  if (key !== undefined && typeof key !== 'function') fail(SCOPE, 'key', 'must be a function (req) => string | undefined', key, TypeError);
  const cookies = names(
    'ignoreCookies',
    ignoreCookies,
    'cookie names',
    COOKIE_NAME,
    'must hold cookie names (no "=", ";", "," or whitespace)',
  );
  const headers = names(
    'keyedHeaders',
    keyedHeaders,
    'request header names',
    TOKEN,
    'must hold header names (letters, digits and !#$%&\'*+-.^_`|~, not "*")',
  );
  if (headers.length > 0 && key === undefined) {
    fail(
      SCOPE,
      'keyedHeaders',
      'needs a "key" function that puts those headers in the key (the default key is the URL alone)',
      keyedHeaders,
      TypeError,
    );
  }
  if (maxBodyBytes !== undefined && (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0)) {
    fail(SCOPE, 'maxBodyBytes', 'must be a whole number of bytes >= 0', maxBodyBytes);
  }
  if (onError !== undefined && typeof onError !== 'function')
    fail(SCOPE, 'onError', 'must be a function (error, req) => void', onError, TypeError);
  return {
    ttl,
    statuses: new Set(statuses ?? RESPONSE_CACHE_DEFAULTS.statuses),
    key,
    ignoreCookies: new Set(cookies),
    keyedHeaders: new Set(headers.map((h) => h.toLowerCase())),
    maxBodyBytes: maxBodyBytes ?? RESPONSE_CACHE_DEFAULTS.maxBodyBytes,
    onError,
  };
}

/**
 * True when every cookie of a `Cookie` header is one the route named as irrelevant. A piece that is not
 * `name=value` is not a cookie the route can have named, so it counts as a relevant one.
 */
function cookiesIgnorable(header: string, ignored: ReadonlySet<string>): boolean {
  for (const piece of header.split(';')) {
    const eq = piece.indexOf('=');
    if (eq === -1) {
      if (piece.trim() === '') continue;
      return false;
    }
    if (!ignored.has(piece.slice(0, eq).trim())) return false;
  }
  return true;
}

function isCachedResponse(value: unknown): value is CachedResponse {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<CachedResponse>;
  return v.v === 1 && typeof v.status === 'number' && typeof v.body === 'string' && typeof v.headers === 'object' && v.headers !== null;
}

type Chunk = string | Uint8Array;
type WriteCallback = (error?: Error | null) => void;

function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}

/** The comma-separated values of a header, however it was set (one string, a number, several lines). */
function listOf(value: number | string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : String(value))
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * True when every request that can read the entry may get this response despite its `Vary`. The entry is
 * read by every request with the same key, and the default key is the URL alone, so a `Vary` on any
 * other request header would hand one variant to everyone. Three are safe: `Cookie` and `Authorization`,
 * since requests carrying them never read the cache unless the route opted them in (by naming the
 * cookies as irrelevant, or with a key that tells callers apart); and `Accept-Encoding` when the body
 * has no `Content-Encoding`, since every client accepts an unencoded body.
 */
function varyAllows(res: Response, keyed: ReadonlySet<string>): boolean {
  for (const header of listOf(res.getHeader('vary'))) {
    const name = header.toLowerCase();
    if (name === 'cookie' || name === 'authorization' || keyed.has(name)) continue;
    if (name === 'accept-encoding' && listOf(res.getHeader('content-encoding')).every((c) => c.toLowerCase() === 'identity')) continue;
    return false;
  }
  return true;
}

/** True when the finished response may be stored. */
function storable(res: Response, resolved: Resolved): boolean {
  if (!resolved.statuses.has(res.statusCode)) return false;
  if (res.getHeader('set-cookie') !== undefined) return false;
  const cc = res.getHeader('cache-control');
  if (cc !== undefined && UNCACHEABLE_DIRECTIVE.test(Array.isArray(cc) ? cc.join(',') : String(cc))) return false;
  return varyAllows(res, resolved.keyedHeaders);
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

/** The key and the request's opt-ins. */
interface Keyed {
  key: string;
  allowAuthorization: boolean;
  allowCookies: boolean;
}

function keyOf(req: Request, resolved: Resolved): Keyed | undefined {
  if (resolved.key === undefined)
    return { key: responseCacheKey(req.method, req.originalUrl), allowAuthorization: false, allowCookies: false };
  const result = resolved.key(req);
  if (result === undefined) return undefined;
  let keyed: Keyed;
  if (typeof result === 'string') keyed = { key: result, allowAuthorization: false, allowCookies: false };
  else if (typeof result === 'object' && result !== null && typeof result.key === 'string') {
    keyed = { key: result.key, allowAuthorization: result.allowAuthorization === true, allowCookies: result.allowCookies === true };
  } else {
    throw new TypeError(
      `${SCOPE}: the key function must return a string, { key, allowAuthorization?, allowCookies? } or undefined, got ${describe(result)}`,
    );
  }
  if (keyed.key.length === 0) throw new TypeError(`${SCOPE}: the key function returned an empty key for ${req.method} ${req.originalUrl}`);
  return keyed;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * True when `entry` may answer `req`. responseCacheKey gives the spellings of a path one key, so that one
 * delete drops them all; but a parameter's case matters to the route (`/files/README.md` is not
 * `/files/readme.md`), and a spelling another route answers (a catch-all) must not poison the real one.
 * So under such a key a hit needs the path spelled as it was when the entry was stored; a spelling that
 * misses replaces the entry. The query string is left to the key (a custom key may drop `utm_` fields).
 */
function answers(entry: CachedResponse, key: string, req: Request): boolean {
  return !key.startsWith(KEY_PREFIX) || (typeof entry.url === 'string' && pathOf(entry.url) === pathOf(req.originalUrl));
}

/** True when a request carries credentials the route did not opt in: it then passes by the cache. */
function withUnoptedCredentials(req: Request, keyed: Keyed, resolved: Resolved): boolean {
  if (req.headers.authorization !== undefined && !keyed.allowAuthorization) return true;
  const cookie = req.headers.cookie;
  return cookie !== undefined && !keyed.allowCookies && !cookiesIgnorable(cookie, resolved.ignoreCookies);
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
