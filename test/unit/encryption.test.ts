// Encryption at rest (issue 11, security item 2): option `encryption`, the built-in AES-256-GCM and
// encrypters of your own, for SyncedCache, the Keyv adapter and the session store; real Keyv over a Map.
import { createSecretKey, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Keyv } from 'keyv';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  DecryptionError,
  type Encrypter,
  type EncryptionContext,
  type EncryptionOption,
  ErrorCodes,
  SyncedCache,
  type SyncedCacheOptions,
} from '../../src/index.js';
import { SyncedSessionStore } from '../../src/integrations/session.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { Hub } from '../helpers/hub.js';
import { adapterKey, KEYV_GENERATION } from '../helpers/keyv-generation.js';

/** The record as the Map holds it (Keyv 5: the serialized string; Keyv 6's memory adapter: `{ value: string, expires }`). */
function raw(store: Map<unknown, unknown>, namespace: string, key: string) {
  const at = adapterKey(namespace, key);
  return {
    get exists(): boolean {
      return store.has(at);
    },
    get text(): string {
      const held = store.get(at);
      return typeof held === 'string' ? held : ((held as { value: string }).value ?? '');
    },
    get record(): { value: unknown; expires?: number; fresh?: number } {
      return JSON.parse(this.text);
    },
    set text(text: string) {
      const held = store.get(at);
      store.set(at, typeof held === 'string' ? text : { ...(held as object), value: text });
    },
    copyTo(other: string) {
      store.set(adapterKey(namespace, other), store.get(at));
    },
  };
}

/** Two caches over one store and one bus: two processes, as far as the store and memory go. */
function pair(options: SyncedCacheOptions, other: SyncedCacheOptions = options) {
  const store = new Map<unknown, unknown>();
  const namespace = uniqueNamespace('enc');
  const hub = new Hub();
  const a = makeCache<unknown>({ store, namespace, transport: hub.transport(), ...options });
  const b = makeCache<unknown>({ store, namespace, transport: hub.transport(), ...other });
  return { store, namespace, a, b };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The salt a passphrase ciphertext carries (after `sc1.` and its kind byte). */
function saltOf(store: Map<unknown, unknown>, namespace: string, key: string): string {
  const sealed = raw(store, namespace, key).record.value as string;
  return Buffer.from(sealed.slice(4), 'base64url').subarray(1, 17).toString('base64url');
}

async function decryptionError(promise: Promise<unknown>): Promise<DecryptionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DecryptionError);
  return error as DecryptionError;
}

const KEY = randomBytes(32);
const OTHER = randomBytes(32);

describe('encryption: the built-in AES-256-GCM', () => {
  it('stores only ciphertext as the value, keeps expires readable, and holds plaintext in memory', async () => {
    const { store, namespace, a, b } = pair({ encryption: { key: KEY } });
    const value = { user: 'ada@example.com', tags: [':colon', 'x'], n: 1 };
    await a.set('profile', value, { ttl: 60_000 });
    const record = raw(store, namespace, 'profile').record;
    expect(typeof record.value).toBe('string');
    expect(record.value).toMatch(/^sc1\.[A-Za-z0-9_-]+$/);
    expect(raw(store, namespace, 'profile').text).not.toContain('ada@example.com');
    expect(record.expires).toBeGreaterThan(Date.now() + 59_000);
    // A plain Keyv reader of the namespace sees the ciphertext as the value, and the expiry.
    expect(await new Keyv({ store, namespace }).get('profile')).toBe(record.value);
    // The writer's memory holds the plaintext: a hit without the store.
    expect(a.peek('profile')).toEqual(value);
    // Another process decrypts from the store, then serves from memory.
    expect(await b.get('profile')).toEqual(value);
    expect(await b.get('profile')).toEqual(value);
    expect(b.stats().hits).toEqual({ memory: 1, store: 1 });
  });

  it('a random nonce per value: the same value written twice gives two ciphertexts', async () => {
    const { store, namespace, a } = pair({ encryption: { key: KEY } });
    await a.set('k', 'same');
    const first = raw(store, namespace, 'k').record.value;
    await a.set('k', 'same');
    expect(raw(store, namespace, 'k').record.value).not.toBe(first);
  });

  it('values that need Keyv\'s own serializer (Buffers, strings beginning with ":") come back as written', async () => {
    const { a, b } = pair({ encryption: { key: KEY } });
    const value = { b: Buffer.from('bytes'), s: ':not-a-tag', nested: [{ t: ':x' }] };
    await a.set('k', value);
    expect(await b.get('k')).toEqual(value);
    expect(Buffer.isBuffer((a.peek('k') as { b: unknown }).b)).toBe(true);
  });

  it('a wrong key is a DecryptionError naming the key, never a miss and never garbage', async () => {
    const { a, b } = pair({ encryption: { key: KEY } }, { encryption: { key: OTHER } });
    await a.set('secret-key-name', 'the plaintext');
    const error = await decryptionError(b.get('secret-key-name'));
    expect(error.code).toBe('ERR_SYNCED_CACHE_DECRYPT');
    expect(error.code).toBe(ErrorCodes.DECRYPT);
    expect(error.key).toBe('secret-key-name');
    expect(error.message).toBe(
      'cannot decrypt the value of key "secret-key-name": no configured key authenticates it (a wrong key, a tampered value, or a value copied from another key or namespace)',
    );
    // Every read path says so: none of them treats it as a miss.
    await decryptionError(b.getMany(['secret-key-name']));
    await decryptionError(b.has('secret-key-name'));
    const loader = () => 'loaded';
    await decryptionError(b.getOrSet('secret-key-name', loader));
    await decryptionError(collect(b.entries()));
    await decryptionError(b.add('secret-key-name', 'other'));
    // Nothing was overwritten.
    expect(await a.get('secret-key-name')).toBe('the plaintext');
  });

  it('tampering with the ciphertext, with the expiry beside it, or copying it to another key is a DecryptionError', async () => {
    const { store, namespace, a, b } = pair({ encryption: { key: KEY } });
    await a.set('t', 'v', { ttl: 60_000 });
    await a.set('moved', 'v');
    const entry = raw(store, namespace, 't');
    const record = entry.record;
    const sealed = record.value as string;
    // One character of the ciphertext changed.
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
    entry.text = JSON.stringify({ ...record, value: flipped });
    await decryptionError(b.get('t'));
    // The expiry pushed back (the value would otherwise live longer than written).
    entry.text = JSON.stringify({ ...record, expires: (record.expires as number) + 3_600_000 });
    await decryptionError(b.get('t'));
    // The original back: readable again.
    entry.text = JSON.stringify(record);
    expect(await b.get('t')).toBe('v');
    // A ciphertext copied to another key (the entry key is bound as associated data).
    raw(store, namespace, 'moved').copyTo('elsewhere');
    const copied = await decryptionError(b.get('elsewhere'));
    expect(copied.message).toMatch(/^cannot decrypt the value of key "elsewhere": /);
    // And to the same key of another namespace.
    const otherNamespace = uniqueNamespace('enc-other');
    store.set(adapterKey(otherNamespace, 'moved'), store.get(adapterKey(namespace, 'moved')));
    await decryptionError(makeCache({ store, namespace: otherNamespace, encryption: { key: KEY } }).get('moved'));
  });

  it('a value written without encryption is a DecryptionError, and so is one written with it to a cache without', async () => {
    const { a, b } = pair({}, { encryption: { key: KEY } });
    await a.set('plain', { v: 1 });
    const error = await decryptionError(b.get('plain'));
    expect(error.message).toMatch(/the stored value was not encrypted by synced-cache/);
    // The other way round a cache without encryption reads the ciphertext string: that is what plain readers see.
    await b.set('sealed', 'v');
    expect(await a.get('sealed')).toMatch(/^sc1\./);
  });

  it('expiry and grace work on the readable fields: an expired value is a miss, a stale one a fallback', async () => {
    const { a, b } = pair({ encryption: { key: KEY }, grace: 60_000 });
    const until = Date.now() + 30;
    await a.set('k', 'old', { ttl: 30 });
    while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
    // Past the ttl: a miss for get, and the stale store copy for a loader that fails.
    expect(await b.get('k')).toBeUndefined();
    expect(
      await b.getOrSet('k', () => {
        throw new Error('source down');
      }),
    ).toBe('old');
    // Past its whole life, a record is a miss without being decrypted.
    const store = new Map<unknown, unknown>();
    const namespace = uniqueNamespace('enc');
    const writer = makeCache({ store, namespace, encryption: { key: KEY } });
    const gone = Date.now() + 20;
    await writer.set('short', 'v', { ttl: 20 });
    while (Date.now() <= gone) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await makeCache({ store, namespace, encryption: { key: OTHER } }).get('short')).toBeUndefined();
  });

  it('a 64-character hex string and a KeyObject are the same raw key as its Buffer', async () => {
    const { a, b } = pair({ encryption: { key: KEY.toString('hex') } }, { encryption: { key: createSecretKey(KEY) } });
    await a.set('k', 'v');
    expect(await b.get('k')).toBe('v');
    const c = makeCache({ store: new Map(), encryption: { key: KEY.toString('hex').toUpperCase() } });
    await c.set('k', 'v');
    expect(await c.get('k')).toBe('v');
  });

  it('rotation: previousKeys decrypt, the first key encrypts', async () => {
    const { store, namespace, a: old } = pair({ encryption: { key: OTHER } });
    await old.set('written-before', 'v1');
    const rotated = makeCache({ store, namespace, encryption: { key: KEY, previousKeys: [OTHER] } });
    expect(await rotated.get('written-before')).toBe('v1');
    await rotated.set('written-after', 'v2');
    // Encrypted with the new key: a process that knows only the old one cannot read it.
    await decryptionError(old.get('written-after'));
    expect(await makeCache({ store, namespace, encryption: { key: KEY } }).get('written-after')).toBe('v2');
  });

  it('setMany, add and the write of a getOrSet loader encrypt too', async () => {
    const { store, namespace, a, b } = pair({ encryption: { key: KEY } });
    await a.setMany([
      { key: 'm1', value: 'one' },
      { key: 'm2', value: 'two', ttl: 60_000 },
    ]);
    expect(await a.add('added', 'three')).toBe(true);
    expect(await a.add('added', 'again')).toBe(false);
    expect(await a.getOrSet('loaded', () => 'four')).toBe('four');
    for (const key of ['m1', 'm2', 'added', 'loaded']) expect(raw(store, namespace, key).record.value).toMatch(/^sc1\./);
    expect(await b.getMany(['m1', 'm2', 'added', 'loaded'])).toEqual(['one', 'two', 'three', 'four']);
  });
});

describe('encryption: a passphrase', () => {
  it('is stretched with a salt created once per namespace in the store, which listings never show', async () => {
    const { store, namespace, a, b } = pair({ encryption: { key: 'correct horse battery staple' } });
    await Promise.all([a.set('x', 1), b.set('y', 2)]);
    const salt = raw(store, namespace, '__synced-cache:salt');
    expect(salt.exists).toBe(true);
    expect(salt.record.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Both caches encrypt with the one salt (the salt rides in every passphrase ciphertext).
    expect(saltOf(store, namespace, 'x')).toBe(salt.record.value);
    expect(saltOf(store, namespace, 'y')).toBe(salt.record.value);
    expect(await b.get('x')).toBe(1);
    expect(await a.get('y')).toBe(2);
    expect((await collect(a.keys())).sort()).toEqual(['x', 'y']);
    // A wrong passphrase is a DecryptionError.
    await decryptionError(makeCache({ store, namespace, encryption: { key: 'incorrect horse' } }).get('x'));
  });

  it('values stay readable by every process after clear() took the salt with it', async () => {
    const { store, namespace, a } = pair({ encryption: { key: 'correct horse battery staple' } });
    await a.set('before', 'v');
    await a.clear();
    expect(raw(store, namespace, '__synced-cache:salt').exists).toBe(false);
    await a.set('kept-salt', 'v1');
    // A process started after the clear creates a new salt; the old process keeps its own.
    const late = makeCache({ store, namespace, encryption: { key: 'correct horse battery staple' } });
    await late.set('new-salt', 'v2');
    expect(saltOf(store, namespace, 'new-salt')).not.toBe(saltOf(store, namespace, 'kept-salt'));
    expect(saltOf(store, namespace, 'new-salt')).toBe(raw(store, namespace, '__synced-cache:salt').record.value);
    // Each value carries its salt: both read both.
    expect(await late.get('kept-salt')).toBe('v1');
    expect(await a.get('new-salt')).toBe('v2');
    expect(await makeCache({ store, namespace, encryption: { key: 'correct horse battery staple' } }).get('new-salt')).toBe('v2');
  });
});

describe('encryption: an encrypter of your own', () => {
  /** A toy encrypter that binds the entry key (as the Stasche interface lets one) and records its calls. */
  function toy(options: { async?: boolean } = {}) {
    const calls: unknown[][] = [];
    const wrap = <T>(value: T) => (options.async ? Promise.resolve(value) : value);
    const encrypter: Encrypter<string> & { key: string } = {
      key: 'k1',
      encrypt(key, plaintext, context) {
        calls.push(['encrypt', key, plaintext, context]);
        return wrap(`${key}|${context.key}|${Buffer.from(plaintext).toString('base64')}`);
      },
      decrypt(key, ciphertext, context) {
        calls.push(['decrypt', key, ciphertext, context]);
        const [k, entry, body] = ciphertext.split('|');
        if (k !== key || entry !== context.key) throw new Error(`wrong key ${key} (secret material!)`);
        return wrap(Buffer.from(body ?? '', 'base64').toString());
      },
    };
    return { encrypter, calls };
  }

  it.each([false, true])('is called with the configured key, the plaintext and { key: entryKey } (async: %s)', async (async) => {
    const { encrypter, calls } = toy({ async });
    const { store, namespace, a, b } = pair({ encryption: encrypter });
    // The entry key is the canonical one: Keyv 5 treats the namespace's own `namespace:` as implied.
    const entry = KEYV_GENERATION === 5 ? 'prefixed' : `${namespace}:prefixed`;
    await a.set(`${namespace}:prefixed`, { v: 1 });
    expect(calls).toEqual([['encrypt', 'k1', '{"value":{"v":1}}', { key: entry, namespace }]]);
    expect(raw(store, namespace, entry).record.value).toBe(`k1|${entry}|${Buffer.from('{"value":{"v":1}}').toString('base64')}`);
    expect(await b.get(`${namespace}:prefixed`)).toEqual({ v: 1 });
    expect(calls[1]).toEqual(['decrypt', 'k1', expect.any(String), { key: entry, namespace }]);
  });

  it('a decrypt that throws is a DecryptionError, which carries nothing of what it threw', async () => {
    const { encrypter } = toy();
    const { store, namespace, a, b } = pair({ encryption: encrypter }, { encryption: { ...encrypter, key: 'k2' } });
    await a.set('k', 'the plaintext');
    const error = await decryptionError(b.get('k'));
    expect(error.message).toBe('cannot decrypt the value of key "k": encryption.decrypt threw (Error)');
    expect(inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })).not.toMatch(/secret material|k1|plaintext/);
    // Copied to another key, the encrypter's own binding refuses it.
    raw(store, namespace, 'k').copyTo('other');
    await decryptionError(a.get('other'));
  });

  it('previousKeys are tried in order; a decrypt that returns what this cache did not write is a DecryptionError', async () => {
    const { encrypter, calls } = toy();
    const { store, namespace, a } = pair({ encryption: encrypter });
    await a.set('k', 'v');
    const rotated = makeCache({ store, namespace, encryption: { ...encrypter, key: 'k2', previousKeys: ['k0', 'k1'] } });
    expect(await rotated.get('k')).toBe('v');
    expect(calls.filter((c) => c[0] === 'decrypt').map((c) => c[1])).toEqual(['k2', 'k0', 'k1']);
    const garbage = makeCache({ store, namespace, encryption: { encrypt: (_k: unknown, p: string) => p, decrypt: () => 'not json' } });
    const error = await decryptionError(garbage.get('k'));
    expect(error.message).toBe(
      'cannot decrypt the value of key "k": encryption.decrypt returned something that is not a value this cache wrote',
    );
    const numbers = makeCache({ store, namespace, encryption: { encrypt: (_k: unknown, p: string) => p, decrypt: () => 42 as never } });
    expect((await decryptionError(numbers.get('k'))).message).toMatch(/encryption\.decrypt returned number, not a string/);
  });

  it('an encrypt that fails or returns no string refuses the write with a TypeError naming the key; nothing is touched', async () => {
    const store = new Map<unknown, unknown>();
    const failing = makeCache({
      store,
      encryption: {
        encrypt() {
          throw new Error('hsm unavailable: secret material');
        },
        decrypt: (_k: unknown, c: string) => c,
      },
    });
    const thrown = await failing.set('k', 'v').catch((e: unknown) => e);
    expect(thrown).toEqual(new TypeError('synced-cache: cannot set key "k": encryption.encrypt threw (Error)'));
    expect(inspect(thrown, { depth: Number.POSITIVE_INFINITY, showHidden: true })).not.toMatch(/secret material|hsm/);
    const wrong = makeCache({ store, encryption: { encrypt: () => 42 as never, decrypt: (_k: unknown, c: string) => c } });
    await expect(wrong.set('k', 'v')).rejects.toThrow(
      new TypeError('synced-cache: cannot set key "k": encryption.encrypt must return a string, got number'),
    );
    expect(store.size).toBe(0);
    expect(failing.peek('k')).toBeUndefined();
  });
});

describe('encryption through the Keyv adapter and the session store', () => {
  it('a Keyv over cache.keyvStore() reads plaintext; the store behind holds ciphertext', async () => {
    const store = new Map<unknown, unknown>();
    const namespace = uniqueNamespace('enc-keyv');
    const cache = makeCache({ store, namespace, encryption: { key: KEY } });
    const keyv = new Keyv({ store: cache.keyvStore(), namespace: 'app' });
    await keyv.set('token', { secret: 'plaintext-token' }, 60_000);
    expect(await keyv.get('token')).toEqual({ secret: 'plaintext-token' });
    const texts = [...store.values()].map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    expect(texts.length).toBe(1);
    expect(texts[0]).not.toContain('plaintext-token');
    expect(texts[0]).toMatch(/sc1\./);
    // Another process's Keyv over its own cache reads it; one with another key gets the DecryptionError.
    const other = makeCache({ store, namespace, encryption: { key: KEY } });
    expect(await new Keyv({ store: other.keyvStore(), namespace: 'app' }).get('token')).toEqual({ secret: 'plaintext-token' });
    const wrong = makeCache({ store, namespace, encryption: { key: OTHER } });
    // Keyv 5 rethrows with throwOnErrors (else it answers a failed read as a miss); Keyv 6 while nobody listens.
    const wrongKeyv = new Keyv({ store: wrong.keyvStore(), namespace: 'app', ...(KEYV_GENERATION === 5 ? { throwOnErrors: true } : {}) });
    await expect(wrongKeyv.get('token')).rejects.toBeInstanceOf(DecryptionError);
    // Its iterator decrypts too.
    const listed: unknown[] = [];
    for await (const [key, value] of keyv.iterator?.(undefined) ?? []) listed.push([key, value]);
    expect(listed).toEqual([['token', { secret: 'plaintext-token' }]]);
  });

  it('the session store keeps sessions encrypted in the store', async () => {
    const store = new Map<unknown, unknown>();
    const namespace = uniqueNamespace('enc-sess');
    const cache = makeCache({ store, namespace, encryption: { key: KEY } });
    const sessions = new SyncedSessionStore({ cache });
    const session = { cookie: { maxAge: 60_000, originalMaxAge: 60_000 }, user: 'ada@example.com' };
    await new Promise<void>((resolve, reject) => sessions.set('sid1', session as never, (e) => (e ? reject(e) : resolve())));
    const texts = [...store.values()].map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    expect(texts.some((t) => t.includes('ada@example.com'))).toBe(false);
    const other = new SyncedSessionStore({ cache: makeCache({ store, namespace, encryption: { key: KEY } }) });
    const read = await new Promise((resolve, reject) => other.get('sid1', (e, s) => (e ? reject(e) : resolve(s))));
    expect(read).toMatchObject({ user: 'ada@example.com' });
    const wrong = new SyncedSessionStore({ cache: makeCache({ store, namespace, encryption: { key: OTHER } }) });
    const failed = await new Promise((resolve) => wrong.get('sid1', (e) => resolve(e)));
    expect(failed).toBeInstanceOf(DecryptionError);
    const all = await new Promise((resolve, reject) => other.all((e, s) => (e ? reject(e) : resolve(s))));
    expect(all).toEqual({ sid1: expect.objectContaining({ user: 'ada@example.com' }) });
  });
});

describe('no key material in output', () => {
  const passphrase = 'a passphrase nobody may print';
  const hex = KEY.toString('hex');
  const forms = [passphrase, hex, KEY.toString('base64'), KEY.toString('base64url'), OTHER.toString('hex')];
  const deep = (value: unknown) => inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true });

  it('util.inspect of a cache (and its Keyv adapter) shows no key, hex, base64 or passphrase', async () => {
    for (const encryption of [{ key: passphrase }, { key: KEY, previousKeys: [OTHER] }, { key: hex }]) {
      const cache = makeCache({ store: new Map(), encryption });
      await cache.set('k', 'v');
      const text = deep(cache) + deep(cache.keyvStore()) + deep(cache.stats());
      for (const form of forms) expect(text).not.toContain(form);
      expect(text).not.toContain(inspect(KEY));
    }
  });

  it('neither do the errors it hands out: a DecryptionError, a refused option, a refused value', async () => {
    const { a, b } = pair({ encryption: { key: KEY } }, { encryption: { key: passphrase } });
    await a.set('k', 'a value nobody may print');
    const errors: unknown[] = [await decryptionError(b.get('k'))];
    for (const encryption of [{ key: KEY.subarray(0, 31) }, passphrase, { key: hex, previousKeys: hex }]) {
      try {
        new SyncedCache({ encryption: encryption as never });
      } catch (error) {
        errors.push(error);
      }
    }
    const small = makeCache({ encryption: { key: KEY }, maxValueBytes: 10 });
    errors.push(await small.set('k', 'a value nobody may print').catch((e: unknown) => e));
    expect(errors.filter((e) => e instanceof Error).length).toBe(5);
    for (const error of errors) {
      const text = deep(error);
      for (const form of [...forms, 'a value nobody may print', passphrase.slice(0, 20)]) expect(text).not.toContain(form);
    }
  });
});

describe('the encryption option is validated at construction', () => {
  it.each([
    [
      { key: Buffer.alloc(16) },
      RangeError,
      'synced-cache: option "encryption.key" must be 32 bytes for AES-256-GCM, got a Buffer of 16 bytes',
    ],
    [
      { key: new Uint8Array(33) },
      RangeError,
      'synced-cache: option "encryption.key" must be 32 bytes for AES-256-GCM, got a Uint8Array of 33 bytes',
    ],
    [{ key: '' }, RangeError, 'synced-cache: option "encryption.key" must not be an empty passphrase'],
    [
      { key: createSecretKey(Buffer.alloc(16)) },
      RangeError,
      'synced-cache: option "encryption.key" must be a 32-byte secret key for AES-256-GCM, got a secret KeyObject',
    ],
    [
      { key: 42 },
      TypeError,
      'synced-cache: option "encryption.key" must be a 32-byte Buffer, a 64-character hex string, a secret KeyObject or a passphrase, got number',
    ],
    [
      {},
      TypeError,
      'synced-cache: option "encryption.key" is required: a 32-byte Buffer, a 64-character hex string, a secret KeyObject or a passphrase',
    ],
    [
      { key: KEY, previousKeys: [KEY, Buffer.alloc(8)] },
      RangeError,
      'synced-cache: option "encryption.previousKeys[1]" must be 32 bytes for AES-256-GCM, got a Buffer of 8 bytes',
    ],
    [
      { key: KEY, previousKeys: KEY },
      TypeError,
      'synced-cache: option "encryption.previousKeys" must be an array of keys, got a Buffer of 32 bytes',
    ],
    [
      'a passphrase given as the option itself',
      TypeError,
      'synced-cache: option "encryption" must be { key, previousKeys? } or an encrypter with encrypt() and decrypt(), got a string of 39 characters',
    ],
    [
      { encrypt: () => '' },
      TypeError,
      'synced-cache: option "encryption.decrypt" must be a function: an encrypter has encrypt(key, plaintext) and decrypt(key, ciphertext), got undefined',
    ],
    [
      { key: 'k', decrypt: () => '' },
      TypeError,
      'synced-cache: option "encryption.encrypt" must be a function: an encrypter has encrypt(key, plaintext) and decrypt(key, ciphertext), got undefined',
    ],
    [
      { keys: KEY },
      TypeError,
      'synced-cache: unknown option "encryption.keys" (did you mean "encryption.key"?); known options of "encryption": key, previousKeys, encrypt, decrypt',
    ],
  ])('%o is refused', (encryption, ErrorClass, message) => {
    expect(() => new SyncedCache({ encryption: encryption as never })).toThrow(ErrorClass);
    expect(() => new SyncedCache({ encryption: encryption as never })).toThrow(message);
  });

  it('a class instance with encrypt and decrypt on its prototype is an encrypter', async () => {
    class Reverse implements Encrypter {
      readonly secret = 'own fields are allowed';
      encrypt(_key: unknown, plaintext: string) {
        return [...plaintext].reverse().join('');
      }
      decrypt(_key: unknown, ciphertext: string) {
        return [...ciphertext].reverse().join('');
      }
    }
    const { a, b } = pair({ encryption: new Reverse() });
    await a.set('k', 'v');
    expect(await b.get('k')).toBe('v');
  });
});

describe('the encryption types', () => {
  it('accept the built-in keys and encrypters of your own, and refuse the rest (checked by tsc)', () => {
    expectTypeOf<SyncedCacheOptions['encryption']>().toEqualTypeOf<EncryptionOption | undefined>();
    const ok: EncryptionOption[] = [
      { key: KEY },
      { key: 'hex or passphrase', previousKeys: [createSecretKey(KEY), new Uint8Array(32)] },
      { key: 'k', encrypt: (_key: unknown, text: string) => text, decrypt: async (_key: unknown, text: string) => text },
      {
        encrypt: (_key: unknown, text: string, context: EncryptionContext) => `${context.key}${text}`,
        decrypt: (_key: unknown, text: string) => text,
      },
    ];
    expect(ok).toHaveLength(4);
    // @ts-expect-error a number is no key
    const number: EncryptionOption = { key: 42 };
    // @ts-expect-error an encrypter needs decrypt too
    const half: EncryptionOption = { key: 'k', encrypt: (_key: unknown, text: string) => text };
    // @ts-expect-error strings out, not numbers
    const numbers: EncryptionOption = { encrypt: () => 1, decrypt: (_key: unknown, text: string) => text };
    expect([number, half, numbers]).toHaveLength(3);
  });
});
