// The Express response cache, against a real Express 5 app on a loopback port, over HTTP.
// Imports go through the package name, so `npm run build` must have run (`npm test` does it).
import { type ChildProcess, fork } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Response } from 'express';
import { StoreError, SyncedCache } from 'synced-cache';
import { type CachedResponse, cacheResponses, responseCacheKey } from 'synced-cache/express';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hasRedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { ControlledStore } from '../helpers/controlled-store.js';
import { get, headersOf, newCache, rawGet, serve } from '../helpers/express.js';
import { waitFor } from '../helpers/wait.js';

describe('cacheResponses: what is cached and how a hit looks', () => {
  it('answers MISS, then HIT with the same status, headers and body, without calling the route again', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/users/:id', cacheResponses(cache), (req, res) => {
        count(req);
        res.set('X-Custom', 'kept').json({ id: req.params.id, name: 'Ada' });
      });
    });
    const miss = await get(`${base}/users/1`);
    const hit = await get(`${base}/users/1`);
    expect(miss.res.headers.get('x-cache')).toBe('MISS');
    expect(hit.res.headers.get('x-cache')).toBe('HIT');
    expect(hit.res.status).toBe(200);
    expect(JSON.parse(hit.body.toString())).toEqual({ id: '1', name: 'Ada' });
    expect(hit.body.equals(miss.body)).toBe(true);
    expect(headersOf(hit.res)).toEqual(headersOf(miss.res));
    expect(hit.res.headers.get('x-custom')).toBe('kept');
    expect(calls.get('/users/1')).toBe(1);
  });

  it('stores the entry under responseCacheKey(method, originalUrl), so a delete invalidates it', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/items', cacheResponses(cache), (req, res) => {
        count(req);
        res.send(`items ${String(req.query.page)}`);
      });
    });
    await get(`${base}/items?page=2`);
    const entry = (await cache.get(responseCacheKey('GET', '/items?page=2'))) as CachedResponse;
    expect(entry.status).toBe(200);
    expect(Buffer.from(entry.body, 'base64').toString()).toBe('items 2');
    expect((await get(`${base}/items?page=3`)).res.headers.get('x-cache')).toBe('MISS');
    expect((await get(`${base}/items?page=2`)).res.headers.get('x-cache')).toBe('HIT');

    await cache.delete(responseCacheKey('GET', '/items?page=2'));
    const after = await get(`${base}/items?page=2`);
    expect(after.res.headers.get('x-cache')).toBe('MISS');
    expect(calls.get('/items')).toBe(3);
  });

  it('answers HEAD from the GET entry, and a HEAD miss stores nothing', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/doc', cacheResponses(cache), (req, res) => {
        count(req);
        res.type('text/plain').send('hello world');
      });
    });
    const headMiss = await get(`${base}/doc`, { method: 'HEAD' });
    expect(headMiss.res.headers.get('x-cache')).toBe('MISS');
    expect((await get(`${base}/doc`)).res.headers.get('x-cache')).toBe('MISS');
    const headHit = await get(`${base}/doc`, { method: 'HEAD' });
    expect(headHit.res.status).toBe(200);
    expect(headHit.res.headers.get('x-cache')).toBe('HIT');
    expect(headHit.res.headers.get('content-length')).toBe('11');
    expect(headHit.res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(headHit.body.length).toBe(0);
    expect(calls.get('/doc')).toBe(2);
  });

  it('caches bodies sent with res.send (string and Buffer), res.json, res.end and res.write', async () => {
    const cache = newCache();
    const binary = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    const { base, calls } = await serve((app, count) => {
      const mw = cacheResponses(cache);
      app.get('/send-string', mw, (req, res) => {
        count(req);
        res.send('<p>héllo</p>');
      });
      app.get('/send-buffer', mw, (req, res) => {
        count(req);
        res.type('application/octet-stream').send(binary);
      });
      app.get('/json', mw, (req, res) => {
        count(req);
        res.json([1, 'two', { three: 3 }]);
      });
      app.get('/end', mw, (req, res) => {
        count(req);
        res.setHeader('Content-Type', 'text/plain');
        res.end('ended', 'utf8');
      });
      app.get('/write', mw, (req, res) => {
        count(req);
        res.setHeader('Content-Type', 'text/plain');
        res.write('a');
        res.write(Buffer.from('b'));
        res.write(new Uint8Array([99]));
        res.end();
      });
    });
    const expected: Record<string, Buffer> = {
      '/send-string': Buffer.from('<p>héllo</p>'),
      '/send-buffer': binary,
      '/json': Buffer.from(JSON.stringify([1, 'two', { three: 3 }])),
      '/end': Buffer.from('ended'),
      '/write': Buffer.from('abc'),
    };
    for (const [path, body] of Object.entries(expected)) {
      const miss = await get(base + path);
      const hit = await get(base + path);
      expect([path, miss.res.headers.get('x-cache'), hit.res.headers.get('x-cache')]).toEqual([path, 'MISS', 'HIT']);
      expect(miss.body.equals(body), path).toBe(true);
      expect(hit.body.equals(body), path).toBe(true);
      expect(hit.res.headers.get('content-type')).toBe(miss.res.headers.get('content-type'));
      expect(calls.get(path)).toBe(1);
    }
  });

  it('sees headers passed to res.writeHead: stores them, and refuses a Set-Cookie given there', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/head-plain', cacheResponses(cache), (req, res) => {
        count(req);
        res.writeHead(200, { 'Content-Type': 'text/csv', 'X-From-WriteHead': 'yes' });
        res.end('a,b');
      });
      app.get('/head-cookie', cacheResponses(cache), (req, res) => {
        count(req);
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': 'sid=1' });
        res.end('mine');
      });
    });
    await get(`${base}/head-plain`);
    const hit = await get(`${base}/head-plain`);
    expect([hit.res.headers.get('x-cache'), hit.res.headers.get('content-type'), hit.res.headers.get('x-from-writehead')]).toEqual([
      'HIT',
      'text/csv',
      'yes',
    ]);
    await get(`${base}/head-cookie`);
    const again = await get(`${base}/head-cookie`);
    expect(again.res.headers.get('x-cache')).toBe('MISS');
    expect(calls.get('/head-cookie')).toBe(2);
  });

  it('caches a streamed body up to maxBodyBytes; a longer stream is sent whole but not cached', async () => {
    const cache = newCache();
    const chunk = Buffer.alloc(1024, 0x61);
    const { base, calls } = await serve((app, count) => {
      const mw = cacheResponses(cache, { maxBodyBytes: 4 * 1024 });
      app.get('/stream/:n', mw, (req, res) => {
        count(req);
        res.setHeader('Content-Type', 'text/plain');
        Readable.from(Array.from({ length: Number(req.params.n) }, () => chunk)).pipe(res);
      });
    });
    const small = await get(`${base}/stream/4`);
    const smallHit = await get(`${base}/stream/4`);
    expect(smallHit.res.headers.get('x-cache')).toBe('HIT');
    expect(smallHit.body.equals(small.body)).toBe(true);
    expect(smallHit.body.length).toBe(4096);
    expect(smallHit.res.headers.get('content-length')).toBe('4096');

    const big = await get(`${base}/stream/5`);
    expect(big.body.length).toBe(5120);
    const again = await get(`${base}/stream/5`);
    expect(again.res.headers.get('x-cache')).toBe('MISS');
    expect(again.body.length).toBe(5120);
    expect(calls.get('/stream/5')).toBe(2);
    expect(await cache.get(responseCacheKey('GET', '/stream/5'))).toBeUndefined();
  });

  it('answers a conditional request on a hit with 304 when the ETag matches', async () => {
    const cache = newCache();
    const { base } = await serve((app) => {
      app.get('/etag', cacheResponses(cache), (_req, res) => {
        res.send('some body');
      });
    });
    const first = await get(`${base}/etag`);
    const etag = first.res.headers.get('etag');
    expect(etag).toBeTruthy();
    const conditional = await rawGet(`${base}/etag`, { 'If-None-Match': etag as string });
    expect([conditional.status, conditional.headers['x-cache'], conditional.body]).toEqual([304, 'HIT', '']);
    const other = await rawGet(`${base}/etag`, { 'If-None-Match': '"other"' });
    expect([other.status, other.headers['x-cache'], other.body]).toEqual([200, 'HIT', 'some body']);
  });

  it('gives each middleware instance (route) its own ttl', async () => {
    const cache = newCache();
    const { base } = await serve((app) => {
      app.get('/short', cacheResponses(cache, { ttl: 1_000 }), (_req, res) => void res.send('s'));
      app.get('/long', cacheResponses(cache, { ttl: 3_600_000 }), (_req, res) => void res.send('l'));
      app.get('/forever', cacheResponses(cache), (_req, res) => void res.send('f'));
    });
    const now = Date.now();
    for (const path of ['/short', '/long', '/forever']) await get(base + path);
    const raw = async (path: string) => (await cache.keyv.getRaw(responseCacheKey('GET', path)))?.expires;
    const short = (await raw('/short')) as number;
    const long = (await raw('/long')) as number;
    expect(short - now).toBeGreaterThan(500);
    expect(short - now).toBeLessThanOrEqual(1_500);
    expect(long - now).toBeGreaterThan(3_599_000);
    expect(await raw('/forever')).toBeFalsy();
  });
});

describe('cacheResponses: what is never cached', () => {
  it.each([
    ['Cache-Control: no-store', (res: Response) => res.set('Cache-Control', 'no-store')],
    ['Cache-Control: private', (res: Response) => res.set('Cache-Control', 'private, max-age=60')],
    ['Cache-Control: no-cache', (res: Response) => res.set('Cache-Control', 'no-cache')],
    ['Set-Cookie', (res: Response) => res.cookie('sid', 'abc')],
    ['Vary: *', (res: Response) => res.set('Vary', '*')],
  ])('a response with %s', async (_name, mark) => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/r', cacheResponses(cache), (req, res) => {
        count(req);
        mark(res);
        res.send('personal');
      });
    });
    expect((await get(`${base}/r`)).res.headers.get('x-cache')).toBe('MISS');
    const second = await get(`${base}/r`);
    expect(second.res.headers.get('x-cache')).toBe('MISS');
    expect(second.body.toString()).toBe('personal');
    expect(calls.get('/r')).toBe(2);
    expect(await cache.get(responseCacheKey('GET', '/r'))).toBeUndefined();
  });

  it('a public Cache-Control (max-age) does not prevent caching', async () => {
    const cache = newCache();
    const { base } = await serve((app) => {
      app.get('/r', cacheResponses(cache), (_req, res) => void res.set('Cache-Control', 'public, max-age=60').send('x'));
    });
    await get(`${base}/r`);
    const hit = await get(`${base}/r`);
    expect(hit.res.headers.get('x-cache')).toBe('HIT');
    expect(hit.res.headers.get('cache-control')).toBe('public, max-age=60');
  });

  it('a request with Authorization, unless the key function returns { key, allowAuthorization: true }', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/me', cacheResponses(cache), (req, res) => {
        count(req);
        res.send(`hello ${req.headers.authorization}`);
      });
      app.get(
        '/me-keyed',
        cacheResponses(cache, { key: (req) => ({ key: `me:${req.headers.authorization}`, allowAuthorization: true }) }),
        (req, res) => {
          count(req);
          res.send(`hello ${req.headers.authorization}`);
        },
      );
    });
    const alice = { headers: { Authorization: 'Bearer alice' } };
    const bob = { headers: { Authorization: 'Bearer bob' } };
    expect((await get(`${base}/me`, alice)).body.toString()).toBe('hello Bearer alice');
    const bobs = await get(`${base}/me`, bob);
    expect(bobs.body.toString()).toBe('hello Bearer bob');
    expect(bobs.res.headers.get('x-cache')).toBeNull();
    expect(calls.get('/me')).toBe(2);
    expect(await cache.get(responseCacheKey('GET', '/me'))).toBeUndefined();

    await get(`${base}/me-keyed`, alice);
    const aliceHit = await get(`${base}/me-keyed`, alice);
    expect(aliceHit.res.headers.get('x-cache')).toBe('HIT');
    expect(aliceHit.body.toString()).toBe('hello Bearer alice');
    const bobMiss = await get(`${base}/me-keyed`, bob);
    expect(bobMiss.res.headers.get('x-cache')).toBe('MISS');
    expect(bobMiss.body.toString()).toBe('hello Bearer bob');
  });

  it('a key function that returns a plain string still leaves Authorization requests uncached', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/k', cacheResponses(cache, { key: () => 'fixed' }), (req, res) => {
        count(req);
        res.send('x');
      });
    });
    await get(`${base}/k`, { headers: { Authorization: 'Basic eDp5' } });
    await get(`${base}/k`, { headers: { Authorization: 'Basic eDp5' } });
    expect(calls.get('/k')).toBe(2);
    expect(await cache.get('fixed')).toBeUndefined();
  });

  it('statuses other than 200 by default; the statuses option widens that', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/missing', cacheResponses(cache), (req, res) => {
        count(req);
        res.status(404).send('nope');
      });
      app.get('/created', cacheResponses(cache), (req, res) => {
        count(req);
        res.status(201).send('made');
      });
      app.get('/missing-cached', cacheResponses(cache, { statuses: [200, 404] }), (req, res) => {
        count(req);
        res.status(404).send('nope');
      });
    });
    for (const path of ['/missing', '/created', '/missing-cached']) {
      await get(base + path);
      await get(base + path);
    }
    expect(calls.get('/missing')).toBe(2);
    expect(calls.get('/created')).toBe(2);
    expect(calls.get('/missing-cached')).toBe(1);
    const hit = await get(`${base}/missing-cached`);
    expect([hit.res.status, hit.res.headers.get('x-cache'), hit.body.toString()]).toEqual([404, 'HIT', 'nope']);
  });

  it('a key function returning undefined leaves that request uncached', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      app.get('/q', cacheResponses(cache, { key: (req) => (req.query.nocache ? undefined : 'q') }), (req, res) => {
        count(req);
        res.send('q');
      });
    });
    await get(`${base}/q?nocache=1`);
    await get(`${base}/q?nocache=1`);
    expect(calls.get('/q')).toBe(2);
    await get(`${base}/q`);
    expect((await get(`${base}/q`)).res.headers.get('x-cache')).toBe('HIT');
  });
});

describe('cacheResponses: bad input and failures', () => {
  it('passes POST, PUT and DELETE straight through, even on a path with a cached GET', async () => {
    const cache = newCache();
    const { base, calls } = await serve((app, count) => {
      const mw = cacheResponses(cache);
      app.use(mw);
      app.all('/thing', (req, res) => {
        count(req);
        res.send(`${req.method} ${calls.get('/thing')}`);
      });
    });
    await get(`${base}/thing`);
    expect((await get(`${base}/thing`)).res.headers.get('x-cache')).toBe('HIT');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await get(`${base}/thing`, { method });
      expect(r.res.headers.get('x-cache')).toBeNull();
      expect(r.body.toString()).toMatch(new RegExp(`^${method} `));
    }
    expect(calls.get('/thing')).toBe(4);
  });

  it('a key function that throws answers 500 with the error passed to next, and the server keeps serving', async () => {
    const cache = newCache();
    const boom = new Error('key function exploded');
    const { base, errors } = await serve((app) => {
      app.get(
        '/bad',
        cacheResponses(cache, {
          key: () => {
            throw boom;
          },
        }),
        (_req, res) => void res.send('unreachable'),
      );
      app.get('/ok', (_req, res) => void res.send('ok'));
    });
    const r = await get(`${base}/bad`);
    expect(r.res.status).toBe(500);
    expect(errors).toEqual([boom]);
    expect((await get(`${base}/ok`)).body.toString()).toBe('ok');
  });

  it('a key function that returns a non-key answers 500 with a TypeError saying what it returned', async () => {
    const cache = newCache();
    const { base, errors } = await serve((app) => {
      app.get('/n', cacheResponses(cache, { key: () => 42 as unknown as string }), (_req, res) => void res.send('x'));
      app.get('/e', cacheResponses(cache, { key: () => '' }), (_req, res) => void res.send('x'));
    });
    expect((await get(`${base}/n`)).res.status).toBe(500);
    expect((await get(`${base}/e`)).res.status).toBe(500);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect((errors[0] as Error).message).toBe(
      'synced-cache/express: the key function must return a string, { key, allowAuthorization?, allowCookies? } or undefined, got 42',
    );
    expect((errors[1] as Error).message).toBe('synced-cache/express: the key function returned an empty key for GET /e');
  });

  it('when the store fails, serves the route uncached and reports to onError; without onError, silently', async () => {
    // A Keyv store adapter whose every call fails, as a store that is down does.
    const down = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const failing = {
      get: async () => Promise.reject(down),
      set: async () => Promise.reject(down),
      delete: async () => Promise.reject(down),
      clear: async () => Promise.reject(down),
      on: () => failing,
    };
    const cache = new SyncedCache({ store: failing as never });
    onTestFinished(() => cache.close());
    const reported: { error: unknown; url: string }[] = [];
    const { base, calls, errors } = await serve((app, count) => {
      app.get(
        '/reported',
        cacheResponses(cache, { onError: (error, req) => reported.push({ error, url: req.originalUrl }) }),
        (req, res) => {
          count(req);
          res.send('fresh');
        },
      );
      app.get('/silent', cacheResponses(cache), (req, res) => {
        count(req);
        res.send('fresh');
      });
    });
    for (const path of ['/reported', '/reported', '/silent']) {
      const r = await get(base + path);
      expect([r.res.status, r.res.headers.get('x-cache'), r.body.toString()]).toEqual([200, 'MISS', 'fresh']);
    }
    expect(errors).toEqual([]);
    expect(calls.get('/reported')).toBe(2);
    expect(reported.length).toBeGreaterThanOrEqual(2);
    expect(reported[0]?.url).toBe('/reported');
    expect(reported[0]?.error).toBeInstanceOf(StoreError);
    expect((reported[0]?.error as StoreError | undefined)?.cause).toBe(down);
  });

  it('answers a miss in full while its store write is still held: the write starts after the response and never delays it', async () => {
    const store = new ControlledStore();
    const cache = newCache({ store });
    const { base, calls } = await serve((app, count) => {
      app.get('/slow-store', cacheResponses(cache), (req, res) => {
        count(req);
        res.send('fresh');
      });
    });
    store.hold('set');
    const first = await get(`${base}/slow-store`);
    expect([first.res.status, first.res.headers.get('x-cache'), first.body.toString()]).toEqual([200, 'MISS', 'fresh']);
    const held = await store.whenHeld('set');
    expect(held.key).toContain(responseCacheKey('GET', '/slow-store'));
    // Still held: the next request is a miss too, and is answered as fast as the first.
    const second = await get(`${base}/slow-store`);
    expect([second.res.headers.get('x-cache'), second.body.toString()]).toEqual(['MISS', 'fresh']);
    held.release();
    await waitFor(async () => (await get(`${base}/slow-store`)).res.headers.get('x-cache') === 'HIT', 'the held write to land');
    expect(calls.get('/slow-store')).toBe(2);
  });

  it('an async onError that rejects, after a failed write or read, is not an unhandled rejection and the response is served', async () => {
    const store = new ControlledStore();
    const cache = newCache({ store });
    const reported: unknown[] = [];
    const { base, errors } = await serve((app) => {
      app.get(
        '/async-on-error',
        cacheResponses(cache, {
          onError: async (error) => {
            reported.push(error);
            throw new Error('the error tracker is down too');
          },
        }),
        (_req, res) => void res.send('fresh'),
      );
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    onTestFinished(() => void process.off('unhandledRejection', onUnhandled));

    store.fail('set');
    expect((await get(`${base}/async-on-error`)).body.toString()).toBe('fresh');
    await waitFor(() => reported.length === 1, 'the failed write to be reported');
    store.fail('get');
    const r = await get(`${base}/async-on-error`);
    expect([r.res.status, r.res.headers.get('x-cache'), r.body.toString()]).toEqual([200, 'MISS', 'fresh']);
    expect(reported).toHaveLength(2);
    expect(reported.every((e) => e instanceof StoreError)).toBe(true);
    // Rejections are reported after a turn of the event loop; a timer of 0 lets them surface.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(unhandled).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('an onError that throws on a failed read sends its error to next (500)', async () => {
    const cache = newCache();
    await cache.close();
    const { base, errors } = await serve((app) => {
      app.get(
        '/closed',
        cacheResponses(cache, {
          onError: (error) => {
            throw new Error('escalated', { cause: error });
          },
        }),
        (_req, res) => void res.send('x'),
      );
    });
    expect((await get(`${base}/closed`)).res.status).toBe(500);
    expect((errors[0] as Error).message).toBe('escalated');
    expect(((errors[0] as Error).cause as Error).name).toBe('CacheClosedError');
  });

  it('a value under the key that is not a cached response is a miss, not a crash', async () => {
    const cache = newCache();
    await cache.set(responseCacheKey('GET', '/collide'), { something: 'else' });
    const { base } = await serve((app) => {
      app.get('/collide', cacheResponses(cache), (_req, res) => void res.send('real'));
    });
    const r = await get(`${base}/collide`);
    expect([r.res.headers.get('x-cache'), r.body.toString()]).toEqual(['MISS', 'real']);
    expect((await get(`${base}/collide`)).res.headers.get('x-cache')).toBe('HIT');
  });

  it('rejects bad arguments at construction with errors that name the option', () => {
    const cache = newCache();
    expect(() => cacheResponses({} as SyncedCache)).toThrow(
      new TypeError('synced-cache/express: cacheResponses(cache): cache must be a SyncedCache, got an object'),
    );
    expect(() => cacheResponses(cache, { ttl: -1 })).toThrow(RangeError);
    expect(() => cacheResponses(cache, { ttl: '60' as unknown as number })).toThrow(
      new TypeError('synced-cache/express: option "ttl" must be a number of milliseconds, got "60"'),
    );
    expect(() => cacheResponses(cache, { statuses: [] })).toThrow(/option "statuses" must be a non-empty array/);
    expect(() => cacheResponses(cache, { statuses: [200, 1000] })).toThrow(
      new RangeError('synced-cache/express: option "statuses" must hold whole numbers from 100 to 599, got 1000'),
    );
    expect(() => cacheResponses(cache, { key: 'url' as unknown as () => string })).toThrow(/option "key" must be a function/);
    expect(() => cacheResponses(cache, { maxBodyBytes: 1.5 })).toThrow(RangeError);
    expect(() => cacheResponses(cache, { onError: true as unknown as () => void })).toThrow(/option "onError" must be a function/);
  });

  it('rejects an unknown option with a TypeError naming it (and the option it resembles), before anything is mounted', () => {
    const cache = newCache();
    expect(() => cacheResponses(cache, { tll: 60_000 } as never)).toThrow(
      new TypeError(
        'synced-cache/express: unknown option "tll" (did you mean "ttl"?); known options: ttl, statuses, key, ignoreCookies, keyedHeaders, maxBodyBytes, onError',
      ),
    );
    expect(() => cacheResponses(cache, { TTL: 60_000 } as never)).toThrow(/unknown option "TTL" \(did you mean "ttl"\?\)/);
    expect(() => cacheResponses(cache, { ignoreCookie: ['_ga'] } as never)).toThrow(
      /unknown option "ignoreCookie" \(did you mean "ignoreCookies"\?\)/,
    );
    // A key function's opt-in put among the options by mistake would otherwise be ignored in silence.
    expect(() => cacheResponses(cache, { allowAuthorization: true } as never)).toThrow(
      new TypeError(
        'synced-cache/express: unknown option "allowAuthorization"; known options: ttl, statuses, key, ignoreCookies, keyedHeaders, maxBodyBytes, onError',
      ),
    );
    expect(() => cacheResponses(cache, 60_000 as never)).toThrow(
      new TypeError('synced-cache/express: cacheResponses(cache, options): options must be an object, got 60000'),
    );
  });

  it('refuses a fractional ttl at construction, since Redis would refuse it on every store write', () => {
    const cache = newCache();
    expect(() => cacheResponses(cache, { ttl: 60_000.5 })).toThrow(
      new RangeError(
        'synced-cache/express: option "ttl" must be a whole number of milliseconds (round it: some stores refuse fractions), got 60000.5',
      ),
    );
    expect(() => cacheResponses(cache, { ttl: -1 })).toThrow(
      new RangeError('synced-cache/express: option "ttl" must be a finite number of milliseconds >= 0 (0 means no expiry), got -1'),
    );
  });

  it('describes a bad value without printing it whole: a function is "a function", a long string is cut', () => {
    const cache = newCache();
    expect(() => cacheResponses(cache, { statuses: (() => 200) as never })).toThrow(
      new TypeError('synced-cache/express: option "statuses" must be a non-empty array of HTTP status codes, got a function'),
    );
    expect(() => cacheResponses(cache, { key: 'x'.repeat(100) as never })).toThrow(
      new TypeError(`synced-cache/express: option "key" must be a function (req) => string | undefined, got "${'x'.repeat(40)}"...`),
    );
  });
});

describe.skipIf(!hasRedisServer())('cacheResponses across two processes (redis-server as store and bus)', () => {
  const fixture = fileURLToPath(new URL('../fixtures/express-node.mjs', import.meta.url));

  async function startNode(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
    const child = fork(fixture, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    onTestFinished(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('app process did not report ready within 15 s')), 15_000);
      child.once('message', (m: { port: number }) => {
        clearTimeout(timer);
        resolve(m.port);
      });
      child.once('exit', (code) => reject(new Error(`app process exited early with code ${code}`)));
    });
    return { child, base: `http://127.0.0.1:${port}` };
  }

  it('an update through process A invalidates the response cached in process B', async () => {
    const redis = await startRedisServer();
    onTestFinished(() => redis.stop());
    const env = { REDIS_URL: redis.url, CACHE_NAMESPACE: 'express-two' };
    const [a, b] = await Promise.all([startNode(env), startNode(env)]);
    const stats = async (base: string) => (await fetch(`${base}/_stats`)).json() as Promise<{ invalidations: { received: number } }>;

    await fetch(`${a.base}/users/1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"Ada"}' });
    const first = await get(`${b.base}/users/1`);
    expect([first.res.headers.get('x-cache'), JSON.parse(first.body.toString())]).toEqual(['MISS', { id: 1, name: 'Ada' }]);
    const second = await get(`${b.base}/users/1`);
    expect([second.res.headers.get('x-cache'), JSON.parse(second.body.toString())]).toEqual(['HIT', { id: 1, name: 'Ada' }]);
    // A reads the same shared entry from the store, so both processes now hold it.
    expect((await get(`${a.base}/users/1`)).res.headers.get('x-cache')).toBe('HIT');

    const before = (await stats(b.base)).invalidations.received;
    const update = await fetch(`${a.base}/users/1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"name":"Grace"}',
    });
    expect(update.status).toBe(200);
    await waitFor(async () => (await stats(b.base)).invalidations.received > before, 'B to receive the invalidation');

    const third = await get(`${b.base}/users/1`);
    expect([third.res.headers.get('x-cache'), JSON.parse(third.body.toString())]).toEqual(['MISS', { id: 1, name: 'Grace' }]);
    const fourth = await get(`${b.base}/users/1`);
    expect([fourth.res.headers.get('x-cache'), JSON.parse(fourth.body.toString())]).toEqual(['HIT', { id: 1, name: 'Grace' }]);
  });
});
