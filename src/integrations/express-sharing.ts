// Who may share a stored response: the key and the one form of a path, the requests that may read the cache
// (credentials), the responses that may be stored (Cache-Control, Set-Cookie, Vary), and which stored entry
// answers which request.
import type { Request, Response } from 'express';
import { describe } from '../check.js';
import { type CachedResponse, type Resolved, SCOPE } from './express-options.js';

const KEY_PREFIX = 'response:';

const NEEDS_FOLDING = /[%A-Z]/;
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
  // Most paths are already in this form: the test spares them the replace and the copy.
  if (NEEDS_FOLDING.test(path))
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

const UNCACHEABLE_DIRECTIVE = /(?:^|,)\s*(?:no-store|private|no-cache)\s*(?:$|,|=)/i;

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

export function isCachedResponse(value: unknown): value is CachedResponse {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<CachedResponse>;
  return v.v === 1 && typeof v.status === 'number' && typeof v.body === 'string' && typeof v.headers === 'object' && v.headers !== null;
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
export function storable(res: Response, resolved: Resolved): boolean {
  if (!resolved.statuses.has(res.statusCode)) return false;
  if (res.getHeader('set-cookie') !== undefined) return false;
  const cc = res.getHeader('cache-control');
  if (cc !== undefined && UNCACHEABLE_DIRECTIVE.test(Array.isArray(cc) ? cc.join(',') : String(cc))) return false;
  return varyAllows(res, resolved.keyedHeaders);
}

/** The key and the request's opt-ins. */
export interface Keyed {
  key: string;
  allowAuthorization: boolean;
  allowCookies: boolean;
}

export function keyOf(req: Request, resolved: Resolved): Keyed | undefined {
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
export function answers(entry: CachedResponse, key: string, req: Request): boolean {
  return !key.startsWith(KEY_PREFIX) || (typeof entry.url === 'string' && pathOf(entry.url) === pathOf(req.originalUrl));
}

/** True when a request carries credentials the route did not opt in: it then passes by the cache. */
export function withUnoptedCredentials(req: Request, keyed: Keyed, resolved: Resolved): boolean {
  if (req.headers.authorization !== undefined && !keyed.allowAuthorization) return true;
  const cookie = req.headers.cookie;
  return cookie !== undefined && !keyed.allowCookies && !cookiesIgnorable(cookie, resolved.ignoreCookies);
}
