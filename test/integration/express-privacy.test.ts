// The response cache never serves one caller's response to another: requests with cookies, and responses
// that Vary on what the key does not tell apart. Real Express 5, real express-session with the library's
// own session store, over HTTP. Imports go through the package name, so `npm run build` must have run.
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';
import session from 'express-session';
import { SyncedCache } from 'synced-cache';
import { cacheResponses, responseCacheKey } from 'synced-cache/express';
import { SyncedSessionStore } from 'synced-cache/session';
import { describe, expect, it, onTestFinished } from 'vitest';
import { get, newCache, serve } from '../helpers/express.js';

/** The `name=value` part of the session cookie a response sets. */
function sessionCookie(res: globalThis.Response): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
  if (cookie === undefined) throw new Error(`no session cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  return cookie.split(';')[0] as string;
}

type WithUser = Request & { session: { user?: string } };

/** An app with real sessions in a SyncedSessionStore, a login route and a cached `/account` page. */
async function bankApp(responses: SyncedCache, options: Parameters<typeof cacheResponses>[1] = {}) {
  const sessions = new SyncedCache<unknown>({ namespace: 'sessions' });
  onTestFinished(() => sessions.close());
  const ibans: Record<string, string> = { alice: 'DE89 3704 0044 0532 0130 00', bob: 'FR76 3000 6000 0112 3456 7890 189' };
  return serve((app, count) => {
    app.use(
      session({ store: new SyncedSessionStore({ cache: sessions }), secret: 'test secret', resave: false, saveUninitialized: false }),
    );
    app.post('/login/:user', (req, res) => {
      (req as WithUser).session.user = req.params.user as string;
      res.send('welcome');
    });
    app.get('/account', cacheResponses(responses, options), (req, res) => {
      count(req);
      const user = (req as WithUser).session.user;
      if (user === undefined) {
        res.status(401).send('please log in');
        return;
      }
      res.send(`${user}: IBAN ${ibans[user]}`);
    });
  });
}

async function login(base: string, user: string): Promise<string> {
  const res = await fetch(`${base}/login/${user}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return sessionCookie(res);
}

describe('cacheResponses never serves one user’s page to another', () => {
  it("Alice's /account page, behind express-session and SyncedSessionStore, is never served to Bob or to anonymous clients", async () => {
    const responses = newCache();
    const { base, calls } = await bankApp(responses);
    const alice = await login(base, 'alice');
    const bob = await login(base, 'bob');

    const first = await get(`${base}/account`, { headers: { Cookie: alice } });
    const again = await get(`${base}/account`, { headers: { Cookie: alice } });
    expect(again.body.toString()).toBe('alice: IBAN DE89 3704 0044 0532 0130 00');
    // The premise: an existing, unmodified session sends no Set-Cookie, so that rule alone does not protect her page.
    expect(first.res.headers.getSetCookie()).toEqual([]);
    expect(again.res.headers.getSetCookie()).toEqual([]);

    const bobs = await get(`${base}/account`, { headers: { Cookie: bob } });
    expect(bobs.body.toString()).toBe('bob: IBAN FR76 3000 6000 0112 3456 7890 189');
    const anonymous = await get(`${base}/account`);
    expect([anonymous.res.status, anonymous.body.toString()]).toEqual([401, 'please log in']);

    // Requests with a cookie pass by the cache altogether: no X-Cache header, nothing stored from them.
    for (const r of [first, again, bobs]) expect(r.res.headers.get('x-cache')).toBeNull();
    expect(anonymous.res.headers.get('x-cache')).toBe('MISS');
    expect(await responses.get(responseCacheKey('GET', '/account'))).toBeUndefined();
    expect(calls.get('/account')).toBe(4);
  });

  it('a key function that tells users apart may opt requests with cookies in: { key, allowCookies: true }', async () => {
    const responses = newCache();
    const { base, calls } = await bankApp(responses, {
      key: (req) => {
        const user = (req as WithUser).session.user;
        return user === undefined ? undefined : { key: `account:${user}`, allowCookies: true };
      },
    });
    const alice = await login(base, 'alice');
    const bob = await login(base, 'bob');
    await get(`${base}/account`, { headers: { Cookie: alice } });
    const aliceHit = await get(`${base}/account`, { headers: { Cookie: alice } });
    expect([aliceHit.res.headers.get('x-cache'), aliceHit.body.toString()]).toEqual(['HIT', 'alice: IBAN DE89 3704 0044 0532 0130 00']);
    const bobMiss = await get(`${base}/account`, { headers: { Cookie: bob } });
    expect([bobMiss.res.headers.get('x-cache'), bobMiss.body.toString()]).toEqual(['MISS', 'bob: IBAN FR76 3000 6000 0112 3456 7890 189']);
    const anonymous = await get(`${base}/account`);
    expect([anonymous.res.status, anonymous.res.headers.get('x-cache')]).toEqual([401, null]);
    expect(calls.get('/account')).toBe(3);
  });

  it('a plain string from the key function leaves requests with cookies uncached', async () => {
    const responses = newCache();
    const { base, calls } = await bankApp(responses, { key: () => 'account' });
    const alice = await login(base, 'alice');
    await get(`${base}/account`, { headers: { Cookie: alice } });
    await get(`${base}/account`, { headers: { Cookie: alice } });
    expect(calls.get('/account')).toBe(2);
    expect(await responses.get('account')).toBeUndefined();
  });
});

describe('cacheResponses: cookies named in ignoreCookies', () => {
  async function pageApp(options: Parameters<typeof cacheResponses>[1]) {
    const cache = newCache();
    const served = await serve((app, count) => {
      app.get('/page', cacheResponses(cache, options), (req, res) => {
        count(req);
        res.send('the same page for everyone');
      });
    });
    return { cache, ...served };
  }

  it('a request whose cookies are all in ignoreCookies is cached and shares the entry of requests without cookies', async () => {
    const { base, calls } = await pageApp({ ignoreCookies: ['_ga', 'theme'] });
    const withCookies = { headers: { Cookie: '_ga=GA1.1.123; theme=dark' } };
    expect((await get(`${base}/page`, withCookies)).res.headers.get('x-cache')).toBe('MISS');
    expect((await get(`${base}/page`, withCookies)).res.headers.get('x-cache')).toBe('HIT');
    expect((await get(`${base}/page`)).res.headers.get('x-cache')).toBe('HIT');
    expect((await get(`${base}/page`, { headers: { Cookie: 'theme=light' } })).res.headers.get('x-cache')).toBe('HIT');
    expect(calls.get('/page')).toBe(1);
  });

  it('one cookie outside ignoreCookies leaves the request uncached', async () => {
    const { base, calls } = await pageApp({ ignoreCookies: ['_ga'] });
    await get(`${base}/page`);
    for (const cookie of ['_ga=1; sid=s%3Aabc', 'sid=s%3Aabc', '_GA=1', '_ga']) {
      const r = await get(`${base}/page`, { headers: { Cookie: cookie } });
      expect([cookie, r.res.headers.get('x-cache')]).toEqual([cookie, null]);
    }
    expect(calls.get('/page')).toBe(5);
  });

  it('without ignoreCookies, any cookie leaves the request uncached, even one that never changes the page', async () => {
    const { base, cache, calls } = await pageApp({});
    await get(`${base}/page`);
    const r = await get(`${base}/page`, { headers: { Cookie: '_ga=GA1.1.123' } });
    expect(r.res.headers.get('x-cache')).toBeNull();
    expect(calls.get('/page')).toBe(2);
    expect(await cache.get(responseCacheKey('GET', '/page'))).toBeDefined();
  });

  it('rejects an ignoreCookies that is not a list of cookie names', () => {
    const cache = newCache();
    expect(() => cacheResponses(cache, { ignoreCookies: '_ga' as unknown as string[] })).toThrow(
      new TypeError('synced-cache/express: option "ignoreCookies" must be an array of cookie names, got "_ga"'),
    );
    expect(() => cacheResponses(cache, { ignoreCookies: ['_ga', 'a=b'] })).toThrow(
      new TypeError('synced-cache/express: option "ignoreCookies" must hold cookie names (no "=", ";", "," or whitespace), got "a=b"'),
    );
    expect(() => cacheResponses(cache, { ignoreCookies: [''] })).toThrow(/option "ignoreCookies" must hold cookie names/);
  });
});

describe('cacheResponses: Vary', () => {
  async function varyApp(mark: (req: Request, res: Response) => void, options: Parameters<typeof cacheResponses>[1] = {}) {
    const cache = newCache();
    const served = await serve((app, count) => {
      app.get('/v', cacheResponses(cache, options), (req, res) => {
        count(req);
        mark(req, res);
        res.send(`for ${req.headers['accept-language'] ?? 'anyone'}`);
      });
    });
    return { cache, ...served };
  }

  it.each([
    ['Vary: Accept-Language', 'Accept-Language'],
    ['Vary: Origin', 'Origin'],
    ['Vary: Accept (res.format)', 'Accept'],
    ['Vary: Accept-Encoding, User-Agent', 'Accept-Encoding, User-Agent'],
    ['Vary: *', '*'],
  ])('a response with %s, a header the default key does not include, is not stored', async (_name, vary) => {
    const { base, cache, calls } = await varyApp((_req, res) => void res.set('Vary', vary));
    const fr = await get(`${base}/v`, { headers: { 'Accept-Language': 'fr' } });
    const de = await get(`${base}/v`, { headers: { 'Accept-Language': 'de' } });
    expect([fr.res.headers.get('x-cache'), fr.body.toString()]).toEqual(['MISS', 'for fr']);
    expect([de.res.headers.get('x-cache'), de.body.toString()]).toEqual(['MISS', 'for de']);
    expect(calls.get('/v')).toBe(2);
    expect(await cache.get(responseCacheKey('GET', '/v'))).toBeUndefined();
  });

  it('a Vary added with res.vary() after other values (an array of header lines) is seen too', async () => {
    const { base, cache } = await varyApp((_req, res) => {
      res.setHeader('Vary', ['Accept-Encoding', 'Accept-Language']);
    });
    await get(`${base}/v`);
    await get(`${base}/v`);
    expect(await cache.get(responseCacheKey('GET', '/v'))).toBeUndefined();
  });

  it('Vary: Accept-Encoding is stored when the body is not encoded (every client accepts it); not with a Content-Encoding', async () => {
    const plain = await varyApp((_req, res) => void res.set('Vary', 'Accept-Encoding'));
    await get(`${plain.base}/v`);
    expect((await get(`${plain.base}/v`, { headers: { 'Accept-Encoding': 'identity' } })).res.headers.get('x-cache')).toBe('HIT');

    // A compressed body under a key that ignores Accept-Encoding would reach clients that cannot decode it.
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/gz', cacheResponses(cache), (req, res) => {
        count(req);
        res.set({ Vary: 'Accept-Encoding', 'Content-Encoding': 'gzip', 'Content-Type': 'text/plain' }).send(gzipSync('compressed'));
      });
    });
    expect((await get(`${base}/gz`)).body.toString()).toBe('compressed');
    await get(`${base}/gz`);
    expect(calls.get('/gz')).toBe(2);
    expect(await cache.get(responseCacheKey('GET', '/gz'))).toBeUndefined();
  });

  it('Vary: Cookie and Vary: Authorization are stored: requests carrying them never read the entry unless opted in', async () => {
    const { base, calls } = await varyApp((_req, res) => void res.vary('Cookie').vary('Authorization'));
    await get(`${base}/v`);
    expect((await get(`${base}/v`)).res.headers.get('x-cache')).toBe('HIT');
    const withCookie = await get(`${base}/v`, { headers: { Cookie: 'sid=1' } });
    const withAuth = await get(`${base}/v`, { headers: { Authorization: 'Bearer x' } });
    expect([withCookie.res.headers.get('x-cache'), withAuth.res.headers.get('x-cache')]).toEqual([null, null]);
    expect(calls.get('/v')).toBe(3);
  });

  it('keyedHeaders names the request headers a key function tells apart: a Vary on them is stored, per key', async () => {
    const { base, calls } = await varyApp((_req, res) => void res.vary('Accept-Language'), {
      key: (req) => `${responseCacheKey(req.method, req.originalUrl)} lang=${req.acceptsLanguages('fr', 'de') || 'en'}`,
      keyedHeaders: ['Accept-Language'],
    });
    for (const lang of ['fr', 'de', 'fr', 'de']) {
      const r = await get(`${base}/v`, { headers: { 'Accept-Language': lang } });
      expect(r.body.toString()).toBe(`for ${lang}`);
    }
    expect(calls.get('/v')).toBe(2);
  });

  it('rejects keyedHeaders without a key function, or that are not header names', () => {
    const cache = newCache();
    expect(() => cacheResponses(cache, { keyedHeaders: ['accept-language'] })).toThrow(
      new TypeError(
        'synced-cache/express: option "keyedHeaders" needs a "key" function that puts those headers in the key (the default key is the URL alone), got an array',
      ),
    );
    expect(() => cacheResponses(cache, { key: () => 'k', keyedHeaders: 'accept-language' as unknown as string[] })).toThrow(
      new TypeError('synced-cache/express: option "keyedHeaders" must be an array of request header names, got "accept-language"'),
    );
    expect(() => cacheResponses(cache, { key: () => 'k', keyedHeaders: ['*'] })).toThrow(
      new TypeError(
        'synced-cache/express: option "keyedHeaders" must hold header names (letters, digits and !#$%&\'*+-.^_`|~, not "*"), got "*"',
      ),
    );
  });
});
