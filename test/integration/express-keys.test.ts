// The response cache's key: spellings of one URL that Express routes alike share it, so the README's
// invalidation recipe drops every one of them, and none of them is ever served another's response.
// Real Express 5 over HTTP; paths go out byte for byte (rawGet), since fetch would rewrite some of them.
import { cacheResponses, responseCacheKey } from 'synced-cache/express';
import { describe, expect, it } from 'vitest';
import { newCache, rawGet, serve } from '../helpers/express.js';

describe('responseCacheKey', () => {
  it('maps HEAD to GET', () => {
    expect(responseCacheKey('get', '/a?b=1')).toBe('response:GET /a?b=1');
    expect(responseCacheKey('HEAD', '/a?b=1')).toBe(responseCacheKey('GET', '/a?b=1'));
  });

  it('gives the spellings of a path that Express routes alike one key: escaped unreserved characters, case, a trailing slash', () => {
    const key = responseCacheKey('GET', '/users/1');
    for (const url of ['/users/1/', '/USERS/1', '/Users/1', '/users/%31', '/%75sers/1', '/USERS/%31/', 'http://example.com/users/1']) {
      expect([url, responseCacheKey('GET', url)]).toEqual([url, key]);
    }
    expect(responseCacheKey('GET', '/')).toBe('response:GET /');
    expect(responseCacheKey('GET', 'http://example.com')).toBe('response:GET /');
    expect(responseCacheKey('GET', '/a-b_c.d~e/%2D%2E%5F%7E')).toBe('response:GET /a-b_c.d~e/-._~');
  });

  it('keeps escapes of reserved characters and dot segments, which Express does not route alike', () => {
    expect(responseCacheKey('GET', '/a%2Fb')).not.toBe(responseCacheKey('GET', '/a/b'));
    expect(responseCacheKey('GET', '/a%20b')).toBe('response:GET /a%20b');
    expect(responseCacheKey('GET', '/users/./1')).not.toBe(responseCacheKey('GET', '/users/1'));
    expect(responseCacheKey('GET', '/users//1')).not.toBe(responseCacheKey('GET', '/users/1'));
  });

  it('keeps the query string byte for byte: order, case and escapes count', () => {
    expect(responseCacheKey('GET', '/p?a=1&b=2')).toBe('response:GET /p?a=1&b=2');
    expect(responseCacheKey('GET', '/p?b=2&a=1')).not.toBe(responseCacheKey('GET', '/p?a=1&b=2'));
    expect(responseCacheKey('GET', '/p?q=A')).not.toBe(responseCacheKey('GET', '/p?q=a'));
    expect(responseCacheKey('GET', '/p?q=%61')).not.toBe(responseCacheKey('GET', '/p?q=a'));
    expect(responseCacheKey('GET', '/P/?q=A')).toBe('response:GET /p?q=A');
  });
});

describe('cacheResponses: URL variants', () => {
  it('after an update and delete(responseCacheKey(GET, /users/1)), no spelling of /users/1 serves the old response', async () => {
    const cache = newCache();
    const users: Record<string, string> = { '1': 'Ada' };
    const { base } = await serve((app) => {
      app.get('/users/:id', cacheResponses(cache), (req, res) => void res.send(`user ${users[req.params.id as string]}`));
    });
    const variants = ['/users/1', '/users/1/', '/USERS/1', '/users/%31'];
    for (const path of variants) {
      await rawGet(base, {}, path);
      const again = await rawGet(base, {}, path);
      expect([path, again.headers['x-cache'], again.body]).toEqual([path, 'HIT', 'user Ada']);
    }

    users['1'] = 'Grace';
    await cache.delete(responseCacheKey('GET', '/users/1'));
    for (const path of variants) {
      const after = await rawGet(base, {}, path);
      expect([path, after.body]).toEqual([path, 'user Grace']);
    }
  });

  it('never serves one spelling the response stored from another: a hit needs the path spelled as it was stored', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      // Route parameters keep their case: README.md and readme.md are two files.
      app.get('/files/:name', cacheResponses(cache), (req, res) => {
        count(req);
        res.send(`file ${req.params.name}`);
      });
    });
    await rawGet(base, {}, '/files/README.md');
    const upper = await rawGet(base, {}, '/files/README.md');
    expect([upper.headers['x-cache'], upper.body]).toEqual(['HIT', 'file README.md']);
    const lower = await rawGet(base, {}, '/files/readme.md');
    expect([lower.headers['x-cache'], lower.body]).toEqual(['MISS', 'file readme.md']);
    // The later miss replaced the entry: one entry per key, whichever spelling missed last.
    expect((await rawGet(base, {}, '/files/readme.md')).headers['x-cache']).toBe('HIT');
    const back = await rawGet(base, {}, '/files/README.md');
    expect([back.headers['x-cache'], back.body]).toEqual(['MISS', 'file README.md']);
    expect(calls.get('/files/README.md')).toBe(2);
  });

  it('a spelling that Express routes elsewhere (a catch-all) cannot poison the entry of the real route', async () => {
    const cache = newCache();
    const { base } = await serve((app) => {
      app.use(cacheResponses(cache));
      app.get('/api/users/:id', (_req, res) => void res.json({ id: 1, name: 'Ada' }));
      // An escaped literal segment does not match '/api/users/:id': this single-page-app fallback answers it.
      app.get('/*splat', (_req, res) => void res.type('html').send('<!doctype html><title>app</title>'));
    });
    await rawGet(base, {}, '/api/users/1');
    const fallback = await rawGet(base, {}, '/api/%75sers/1');
    expect(fallback.body).toMatch(/<title>app<\/title>/);
    expect((await rawGet(base, {}, '/api/%75sers/1')).headers['x-cache']).toBe('HIT');
    const real = await rawGet(base, {}, '/api/users/1');
    expect([real.headers['x-cache'], JSON.parse(real.body)]).toEqual(['MISS', { id: 1, name: 'Ada' }]);
  });

  it('a custom key decides itself what is shared: no same-URL rule when it differs from responseCacheKey', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      const withoutTracking = (url: string) => url.replace(/[?&]utm_[^&]*/g, '').replace(/^([^?]*)&/, '$1?');
      app.get(
        '/post',
        cacheResponses(cache, { key: (req) => responseCacheKey(req.method, withoutTracking(req.originalUrl)) }),
        (req, res) => {
          count(req);
          res.send('post');
        },
      );
    });
    await rawGet(base, {}, '/post?utm_source=news');
    expect((await rawGet(base, {}, '/post')).headers['x-cache']).toBe('HIT');
    expect((await rawGet(base, {}, '/post?utm_medium=mail')).headers['x-cache']).toBe('HIT');
    expect(calls.get('/post')).toBe(1);
  });
});
