import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { ownMessagePrefix } from '../../src/bus/messages.js';
import { SIGNATURE_REPORT_INTERVAL, SignatureReports } from '../../src/bus/signing.js';
import {
  type BusMessage,
  channelFor,
  decodeMessage,
  encodeMessage,
  InvalidMessageError,
  MessageSigner,
  MessageType,
  type Secret,
  SyncedCache,
  type SyncedCacheOptions,
} from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { Hub } from '../helpers/hub.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'correct horse battery staple, 32 bytes or more of it';
const OTHER = 'a different secret that someone else holds';

const invalidation = (origin: string, seq: number, keys: string[] | '*'): BusMessage => ({
  type: MessageType.Invalidate,
  origin,
  seq,
  sentAt: Date.now(),
  keys,
});
const heartbeat = (origin: string, seq: number): BusMessage => ({ type: MessageType.Heartbeat, origin, seq, nonce: 1, sentAt: Date.now() });

describe('the secret option is validated at construction, and never shown', () => {
  it.each([
    [{ secret: '' }, RangeError, /option "secret" must not be empty, got a string of 0 characters/],
    [{ secret: Buffer.alloc(0) }, RangeError, /option "secret" must not be empty, got 0 bytes/],
    [{ secret: [] }, RangeError, /option "secret" must hold at least one key when it is an array, got an array/],
    [
      { secret: 42 },
      TypeError,
      /option "secret" must be a string or a Buffer \(or an array of them, the first of which signs\), got a number/,
    ],
    [{ secret: null }, TypeError, /option "secret" must be a string or a Buffer .*, got null/],
    [{ secret: { key: SECRET } }, TypeError, /option "secret" must be a string or a Buffer .*, got an object/],
    [{ secret: [SECRET, ''] }, RangeError, /option "secret\[1\]" must not be empty/],
    [{ secret: [SECRET, 7] }, TypeError, /option "secret\[1\]" must be a string or a Buffer/],
    [{ secret: [[SECRET]] }, TypeError, /option "secret\[0\]" must be a string or a Buffer .*, got an array/],
    [{ secrets: SECRET }, TypeError, /unknown option "secrets" \(did you mean "secret"\?\)/],
  ])('%o is refused', (options, ErrorClass, message) => {
    let thrown: unknown;
    try {
      new SyncedCache(options as SyncedCacheOptions);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ErrorClass);
    expect((thrown as Error).message).toMatch(message);
    expect(inspect(thrown, { depth: Number.POSITIVE_INFINITY })).not.toContain(SECRET);
  });

  it('a string, a Buffer, a Uint8Array or an array of them is accepted', async () => {
    for (const secret of [SECRET, Buffer.from(SECRET), new Uint8Array([1, 2, 3]), [SECRET, Buffer.from(OTHER)]] as Secret[]) {
      await new SyncedCache({ secret }).close();
    }
  });

  it('neither the cache nor the signer shows the secret when inspected', async () => {
    const cache = makeCache({ namespace: uniqueNamespace(), transport: new Hub().transport(), secret: [SECRET, Buffer.from(OTHER)] });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    const shown = [
      inspect(cache, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
      inspect(new MessageSigner([SECRET, Buffer.from(OTHER)]), { depth: Number.POSITIVE_INFINITY, showHidden: true }),
      JSON.stringify(cache.stats()),
    ].join('\n');
    for (const form of [SECRET, OTHER, Buffer.from(SECRET).toString('hex'), Buffer.from(SECRET).toString('base64')]) {
      expect(shown).not.toContain(form);
    }
  });
});

describe('MessageSigner', () => {
  const namespace = 'ns';
  const channel = channelFor(namespace);
  const signer = new MessageSigner(SECRET);
  const body = encodeMessage(namespace, invalidation('me', 1, ['k']));

  it('appends "." and 43 characters of base64url, so a message still begins as the codec wrote it', () => {
    const payload = signer.sign(body, channel, namespace);
    expect(payload.slice(0, body.length)).toBe(body);
    expect(payload).toMatch(/^\{.*\}\.[A-Za-z0-9_-]{43}$/);
    expect(payload.startsWith(ownMessagePrefix(namespace, 'me'))).toBe(true);
    expect(signer.open(payload, channel, namespace)).toEqual({ body });
  });

  it('refuses every byte flipped, every truncation and every extension of a signed message', () => {
    const payload = signer.sign(body, channel, namespace);
    for (let i = 0; i < payload.length; i++) {
      const flipped = payload.slice(0, i) + String.fromCharCode(payload.charCodeAt(i) ^ 1) + payload.slice(i + 1);
      expect(signer.open(flipped, channel, namespace)).toHaveProperty('refused');
    }
    for (let cut = 1; cut <= payload.length; cut++) {
      expect(signer.open(payload.slice(0, -cut), channel, namespace)).toHaveProperty('refused');
    }
    for (const extra of ['x', '.', ' ', '\n', 'A'.repeat(43)]) {
      expect(signer.open(payload + extra, channel, namespace)).toHaveProperty('refused');
    }
    expect(signer.open(body, channel, namespace)).toEqual({ refused: 'no signature (unsigned, or truncated)' });
  });

  it('refuses a signature made with another key, for another channel or namespace, or taken from another message', () => {
    const good = signer.sign(body, channel, namespace);
    const other = encodeMessage(namespace, invalidation('me', 2, ['k']), signer);
    const forged = [
      new MessageSigner(OTHER).sign(body, channel, namespace),
      signer.sign(body, `${channel}:events`, namespace),
      signer.sign(body, channel, 'ns2'),
      signer.sign(body, channelFor('ns2'), 'ns2'),
      body + other.slice(-44),
    ];
    for (const payload of forged) {
      expect(payload).not.toBe(good);
      expect(signer.open(payload, channel, namespace)).toEqual({
        refused: 'bad signature (another secret, or a message made or changed by someone without it)',
      });
    }
  });

  it('accepts only the one spelling of a signature: base64url letters that decode to the same bytes are refused', () => {
    const good = signer.sign(body, channel, namespace);
    // 43 characters carry 258 bits for 256: the last letter has two spare bits, which a lenient decoder ignores.
    const last = good.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const index = alphabet.indexOf(last);
    for (const spare of [1, 2, 3]) {
      const twin = good.slice(0, -1) + alphabet[(index & ~3) | ((index + spare) & 3)];
      expect(Buffer.from(twin.slice(-43), 'base64url')).toEqual(Buffer.from(good.slice(-43), 'base64url'));
      expect(signer.open(twin, channel, namespace)).toHaveProperty('refused');
    }
  });

  it('copies the key: a Buffer the caller changes afterwards changes nothing', () => {
    const key = Buffer.from(SECRET);
    const own = new MessageSigner(key);
    key.fill(0);
    expect(own.open(signer.sign(body, channel, namespace), channel, namespace)).toEqual({ body });
  });

  it('rotation: the first key signs, every key verifies', () => {
    const oldKey = new MessageSigner('old key');
    const newKey = new MessageSigner('new key');
    const both = new MessageSigner(['new key', 'old key']);
    expect(both.sign(body, channel, namespace)).toBe(newKey.sign(body, channel, namespace));
    expect(both.open(oldKey.sign(body, channel, namespace), channel, namespace)).toEqual({ body });
    expect(both.open(newKey.sign(body, channel, namespace), channel, namespace)).toEqual({ body });
    expect(oldKey.open(both.sign(body, channel, namespace), channel, namespace)).toHaveProperty('refused');
  });
});

describe('signature failures are reported at most once per sender per minute', () => {
  it('counts by the sender a message names, bounded, on the given clock', () => {
    const reports = new SignatureReports();
    expect(reports.due('a', 0)).toBe(true);
    expect(reports.due('a', 1)).toBe(false);
    expect(reports.due('b', 1)).toBe(true);
    expect(reports.due(undefined, 1)).toBe(true);
    expect(reports.due(undefined, 2)).toBe(false);
    expect(reports.due('a', SIGNATURE_REPORT_INTERVAL - 1)).toBe(false);
    expect(reports.due('a', SIGNATURE_REPORT_INTERVAL)).toBe(true);
    // Forged sender names cannot grow it: once 100 were reported within a minute, new ones wait.
    const flood = new SignatureReports();
    for (let i = 0; i < 100; i++) expect(flood.due(`forged-${i}`, 0)).toBe(true);
    expect(flood.due('forged-100', 1)).toBe(false);
    expect(flood.due('forged-100', SIGNATURE_REPORT_INTERVAL)).toBe(true);
  });
});

/** Caches on one synchronous hub with a manual clock, and a raw connection to post what a forger would. */
async function onHub() {
  const hub = new Hub();
  const store = new Map();
  const namespace = uniqueNamespace('signed');
  let now = 0;
  const clock = { now: () => now };
  const caches: SyncedCache<unknown>[] = [];
  const cache = (secret: Secret | undefined, options: SyncedCacheOptions = {}) => {
    // Beats only every minute of real time: the test sends what it needs.
    const made = makeCache<unknown>({
      namespace,
      store,
      transport: hub.transport(),
      clock,
      heartbeat: { interval: 60_000 },
      secret,
      ...options,
    });
    caches.push(made);
    return made;
  };
  const raw = hub.transport().open(channelFor(namespace), { message: () => {}, up: () => {}, down: () => {}, error: () => {} });
  const errorsOf = (target: SyncedCache<unknown>) => {
    const errors: Error[] = [];
    target.on('error', (error) => errors.push(error));
    return errors;
  };
  const up = () => waitFor(() => caches.every((c) => c.stats().bus === 'up'), 'buses up');
  return { namespace, cache, raw, errorsOf, up, pass: (ms: number) => (now += ms) };
}

/** `cache` holds `key` in memory: a get is a memory hit. */
async function holds(cache: SyncedCache<unknown>, key: string, value: unknown): Promise<void> {
  const hits = cache.stats().hits.memory;
  expect(await cache.get(key)).toEqual(value);
  expect(cache.stats().hits.memory).toBe(hits + 1);
}

describe('a cache with a secret ignores what was not signed with it', () => {
  it('a cache with another secret, or none, cannot evict or flush anything; one with the same secret can', async () => {
    const { cache, errorsOf, up } = await onHub();
    const victim = cache(SECRET);
    const intruders = [cache(OTHER), cache(undefined)] as const;
    const peer = cache([SECRET, OTHER]);
    // Listening from the start: a sender's first bad message (its first heartbeat) is the one reported.
    const errors = errorsOf(victim);
    const blind = errorsOf(intruders[1]);
    await up();
    await victim.set('k', 1);
    await victim.get('k');
    const ignoredBefore = victim.stats().invalidations.ignored;
    for (const intruder of intruders) {
      await intruder.set('k', 'forged');
      await intruder.delete('k');
      await intruder.clear();
    }
    // The hub delivers synchronously: every message above has been seen.
    await holds(victim, 'k', 1);
    expect(victim.stats().invalidations.ignored - ignoredBefore).toBe(6);
    expect(victim.stats().invalidations.received).toBe(0);
    expect(victim.stats().flushes).toEqual({ gap: 0, reconnect: 0, clear: 0 });
    // One report per sender: the first thing each sent after the listener was attached.
    expect(errors.map((e) => [e.constructor, e.message])).toEqual([
      [
        InvalidMessageError,
        expect.stringMatching(
          /^ignored a bus message: bad signature .*, from sender "[0-9a-f-]{36}" \(as it claims\); more from it within 60 s/,
        ),
      ],
      [
        InvalidMessageError,
        expect.stringMatching(/^ignored a bus message: no signature \(unsigned, or truncated\), from sender "[0-9a-f-]{36}"/),
      ],
    ]);
    expect(errors[0]?.message).toContain(intruders[0].instanceId);
    expect(errors[1]?.message).toContain(intruders[1].instanceId);
    // The intruder without a secret cannot read the signed caches either, and says why.
    expect(blind.map((e) => e.message)).toContainEqual(
      `ignored a bus message: a signed message, and this cache has no secret, from sender "${victim.instanceId}" (as it claims); more from it within 60 s are counted in stats().invalidations.ignored, not reported`,
    );
    // The control: a cache that verifies with the secret (it signs with another key first) is heard.
    await victim.get('k');
    await peer.set('k', 3);
    expect(victim.stats().invalidations.received).toBe(1);
    expect(await victim.get('k')).toBe(3);
  });

  it('forged messages change nothing: unsigned, badly signed, truncated, extended, or signed for another namespace or channel', async () => {
    const { namespace, cache, raw, errorsOf, up } = await onHub();
    const victim = cache(SECRET);
    await up();
    const errors = errorsOf(victim);
    await victim.set('k', 1);
    await victim.get('k');
    const right = new MessageSigner(SECRET);
    const wrong = new MessageSigner(OTHER);
    const signed = encodeMessage(namespace, invalidation('forger', 1, ['k']), right);
    const clear = encodeMessage(namespace, invalidation('forger-2', 1, '*'), right);
    const forged: [string, string][] = [
      [encodeMessage(namespace, invalidation('f1', 1, ['k'])), 'no signature'],
      [encodeMessage(namespace, invalidation('f2', 1, '*')), 'no signature'],
      [encodeMessage(namespace, invalidation('f3', 1, '*'), wrong), 'bad signature'],
      [signed.slice(0, -1), 'no signature'],
      [signed.slice(0, -44), 'no signature'],
      [`${signed}x`, 'no signature'],
      [signed.replace('"k":["k"]', '"k":["j"]'), 'bad signature'],
      [clear.slice(0, -43) + signed.slice(-43), 'bad signature'],
      [encodeMessage(`${namespace}-2`, invalidation('f4', 1, '*'), right), 'bad signature'],
      [right.sign(encodeMessage(namespace, invalidation('f5', 1, '*')), channelFor(`${namespace}-2`), `${namespace}-2`), 'bad signature'],
      [right.sign(encodeMessage(namespace, invalidation('f6', 1, '*')), `${channelFor(namespace)}:events`, namespace), 'bad signature'],
      // A heartbeat announcing a number never sent would flush memory as a gap.
      [encodeMessage(namespace, heartbeat('forger', 1_000), wrong), 'bad signature'],
      [encodeMessage(namespace, heartbeat('forger', 1_000)), 'no signature'],
    ];
    for (const [payload, reason] of forged) {
      const ignored = victim.stats().invalidations.ignored;
      const reported = errors.length;
      await raw.publish(payload);
      expect(victim.stats().invalidations.ignored).toBe(ignored + 1);
      await holds(victim, 'k', 1);
      // Reported once per sender named: the two from "forger" share one report.
      if (errors.length > reported) expect(errors.at(-1)?.message).toContain(`ignored a bus message: ${reason}`);
    }
    // f1, f2, f3, forger, forger-2, an unnamed one (another namespace's message names no sender of ours), f5, f6.
    expect(errors).toHaveLength(8);
    // No report is an oracle: none shows the signature the forged text would have needed.
    const reports = inspect(errors, { depth: Number.POSITIVE_INFINITY });
    for (const [payload] of forged) {
      const body = /\.[A-Za-z0-9_-]{43}$/.test(payload) ? payload.slice(0, -44) : payload;
      expect(reports).not.toContain(right.sign(body, channelFor(namespace), namespace).slice(-43));
    }
    expect(reports).not.toContain(SECRET);
    expect(errors.every((e) => e instanceof InvalidMessageError)).toBe(true);
    expect(victim.stats().flushes).toEqual({ gap: 0, reconnect: 0, clear: 0 });
    expect(victim.stats().invalidations.received).toBe(0);
    // The controls: the same heartbeat and clear, rightly signed, do act.
    await raw.publish(signed);
    expect(victim.stats().invalidations.received).toBe(1);
    await victim.get('k');
    await raw.publish(encodeMessage(namespace, heartbeat('forger', 1_000), right));
    expect(victim.stats().flushes.gap).toBe(1);
    await victim.get('k');
    await raw.publish(clear);
    expect(victim.stats().flushes.clear).toBe(1);
  });

  it('a replayed message from a sender it knows is dropped, signed or not', async () => {
    const { namespace, cache, raw, up } = await onHub();
    const victim = cache(SECRET);
    await up();
    const right = new MessageSigner(SECRET);
    await victim.set('k', 1);
    const recorded = encodeMessage(namespace, invalidation('sender', 1, '*'), right);
    await raw.publish(recorded);
    expect(victim.stats().flushes.clear).toBe(1);
    await victim.get('k');
    await holds(victim, 'k', 1);
    await raw.publish(recorded);
    await raw.publish(recorded);
    await holds(victim, 'k', 1);
    expect(victim.stats().flushes.clear).toBe(1);
    expect(victim.stats().invalidations.ignored).toBe(0);
  });

  it('a bad signature is reported at most once per sender per minute, on the injected clock, and every one is counted', async () => {
    const { namespace, cache, raw, errorsOf, up, pass } = await onHub();
    const victim = cache(SECRET);
    await up();
    const errors = errorsOf(victim);
    const wrong = new MessageSigner(OTHER);
    const send = async (origin: string, n: number) => {
      for (let i = 1; i <= n; i++) await raw.publish(encodeMessage(namespace, heartbeat(origin, i), wrong));
    };
    await send('a', 5);
    await send('b', 5);
    await raw.publish('garbage.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await raw.publish('more garbage');
    expect(victim.stats().invalidations.ignored).toBe(12);
    expect(errors.map((e) => e.message.match(/from (sender "\w+"|a sender it does not name)/)?.[1])).toEqual([
      'sender "a"',
      'sender "b"',
      'a sender it does not name',
    ]);
    pass(SIGNATURE_REPORT_INTERVAL - 1);
    await send('a', 1);
    expect(errors).toHaveLength(3);
    pass(1);
    await send('a', 1);
    await send('b', 1);
    expect(errors).toHaveLength(5);
    expect(victim.stats().invalidations.ignored).toBe(15);
  });

  it('malformed messages are still reported every time (no rate limit without a signature matter)', async () => {
    const { cache, raw, errorsOf, up } = await onHub();
    const plain = cache(undefined);
    await up();
    const errors = errorsOf(plain);
    for (let i = 0; i < 3; i++) await raw.publish('{nope');
    expect(errors.map((e) => e.message)).toEqual(Array(3).fill('ignored a bus message: payload is not JSON'));
  });

  it('the size limit counts the signature: a batch that fits only unsigned is sent as "drop everything"', async () => {
    const hub = new Hub();
    const namespace = uniqueNamespace();
    // Long enough that "drop everything", signed, is shorter than the keys' message unsigned.
    const keys = ['x'.repeat(100)];
    const unsigned = encodeMessage(namespace, invalidation('5d7395f9-eba9-48bd-913a-984e29b49996', 1, keys));
    const maxMessageBytes = Buffer.byteLength(unsigned) + 20;
    const a = makeCache({ namespace, transport: hub.transport(), secret: SECRET, maxMessageBytes });
    const b = makeCache({ namespace, transport: hub.transport(), secret: SECRET, maxMessageBytes });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await a.set(keys[0] as string, 1);
    const sent = hub.conns[0]?.sent.filter((p) => p.includes('"t":"i"')) ?? [];
    expect(sent).toHaveLength(1);
    expect(Buffer.byteLength(sent[0] as string)).toBeLessThanOrEqual(maxMessageBytes);
    expect(decodeMessage(namespace, sent[0], maxMessageBytes, new MessageSigner(SECRET))).toMatchObject({ keys: '*' });
    expect(b.stats().flushes.clear).toBe(1);
  });
});

describe('rotating the secret', () => {
  // The rolling deploy of one step changes processes one at a time: for a while, processes on the
  // step before and the step after must hear each other both ways.
  const OLD = 'the old secret';
  const NEW = 'the new secret';

  async function hears(sender: Secret, receiver: Secret): Promise<boolean> {
    const { cache, up } = await onHub();
    const from = cache(sender);
    const to = cache(receiver);
    await up();
    await to.set('k', 1);
    await to.get('k');
    await from.set('k', 2);
    return (await to.get('k')) === 2;
  }

  it('a receiver on [new, old] hears a sender still on [old]; a receiver still on [old] does not hear a sender on [new, old]', async () => {
    expect(await hears([OLD], [NEW, OLD])).toBe(true);
    expect(await hears([NEW, OLD], [OLD])).toBe(false);
  });

  it('so the safe rotation takes three steps, each of which keeps every pair of processes hearing each other', async () => {
    const steps: Secret[][] = [[OLD], [OLD, NEW], [NEW, OLD], [NEW]];
    for (let i = 0; i + 1 < steps.length; i++) {
      const [before, after] = [steps[i] as Secret, steps[i + 1] as Secret];
      expect({ step: i + 1, before, after, forward: await hears(before, after), back: await hears(after, before) }).toEqual({
        step: i + 1,
        before,
        after,
        forward: true,
        back: true,
      });
    }
    // Skipping the first step (new first everywhere at once) leaves old processes deaf during the deploy,
    // and a straggler left on [old] after the last step is deaf too.
    expect(await hears([NEW, OLD], [OLD])).toBe(false);
    expect(await hears([NEW], [OLD])).toBe(false);
    expect(await hears([OLD], [NEW])).toBe(false);
  });
});

describe('the decoder checks the size before the signature', () => {
  it('a payload over maxMessageBytes is refused without being hashed or parsed, signed or not', () => {
    const signer = new MessageSigner(SECRET);
    const open = vi.spyOn(signer, 'open');
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const big = encodeMessage('ns', invalidation('o', 1, ['x'.repeat(2_000)]), signer);
      expect(decodeMessage('ns', big, 1_000, signer)).toBe(`payload of ${big.length} characters exceeds maxMessageBytes (1000)`);
      // Counted in UTF-8 bytes: 400 three-byte characters are 1,200 bytes.
      const wide = encodeMessage('ns', invalidation('o', 1, ['€'.repeat(400)]), signer);
      expect(wide.length).toBeLessThan(1_000);
      expect(decodeMessage('ns', wide, 1_000, signer)).toMatch(/exceeds maxMessageBytes \(1000\)$/);
      expect(decodeMessage('ns', big, 1_000)).toMatch(/exceeds maxMessageBytes/);
      expect(open).not.toHaveBeenCalled();
      expect(parse).not.toHaveBeenCalled();
      expect(decodeMessage('ns', wide, 2_000, signer)).toMatchObject({ keys: ['€'.repeat(400)] });
      expect(open).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });
});
