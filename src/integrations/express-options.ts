// The options of cacheResponses(), their defaults and their checks, and the entry format: the public types of
// synced-cache/express, re-exported by express.ts.
import type { Request } from 'express';
// A stateless leaf, bundled into this subpath: the core itself is only reached through 'synced-cache'.
import { checkDuration, checkKnownKeys, describe, fail, isObject } from '../check.js';

export const SCOPE = 'synced-cache/express';

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

/** An HTTP token (RFC 9110 §5.6.2): what a header name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~\dA-Za-z]+$/;
const COOKIE_NAME = /^[^\s=;,]+$/;

export interface Resolved {
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

export function resolve(options: ResponseCacheOptions): Resolved {
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
