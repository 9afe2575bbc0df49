// `events: { bus: true }`: the changes of a cache published on `synced-cache:<namespace>:events`, in
// batches, best effort, never delaying the write; the codec of that channel; and the option's rules.
// The transport here implements the real BusTransport interface, with publishes the test can hold, fail
// or cut (a Redis that answers late or not at all on demand); test/integration/event-stream.test.ts runs
// the same against a real Redis and real processes.
import type { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeEventRecord, encodeEvents, eventsHead } from '../../src/bus/event-messages.js';
import { EventPublisher } from '../../src/bus/event-publisher.js';
import {
  type BusTransport,
  channelFor,
  decodeEvents,
  eventsChannelFor,
  MessageSigner,
  SyncedCache,
  type TransportConnection,
  type TransportHandlers,
} from '../../src/index.js';
import { STREAMED_EVENTS } from '../../src/observe/events.js';
import { Stash } from '../../src/stash/stash.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { deferred, waitFor } from '../helpers/wait.js';

interface Line {
  channel: string;
  handlers: TransportHandlers;
  sent: string[];
  /** Publishes waiting for the test to settle them (when `hold` is on). */
  held: { payload: string; settle: (error?: Error) => void }[];
  hold: boolean;
  closed: boolean;
}

/** A BusTransport whose connections the test drives: each one is up at once, and its publishes can be held. */
class TestTransport implements BusTransport {
  readonly echoesOwnMessages = false;
  readonly lines: Line[] = [];

  open(channel: string, handlers: TransportHandlers): TransportConnection {
    const line: Line = { channel, handlers, sent: [], held: [], hold: false, closed: false };
    this.lines.push(line);
    queueMicrotask(() => handlers.up());
    return {
      publish(payload) {
        if (line.closed) return Promise.reject(new Error('closed'));
        if (!line.hold) {
          line.sent.push(payload);
          return Promise.resolve();
        }
        const done = deferred<Error | undefined>();
        line.held.push({ payload, settle: (error) => done.resolve(error) });
        return done.promise.then((error) => {
          if (error !== undefined) throw error;
          line.sent.push(payload);
        });
      },
      async close() {
        line.closed = true;
      },
    };
  }

  line(channel: string): Line {
    const found = this.lines.find((l) => l.channel === channel);
    if (found === undefined) throw new Error(`no connection on ${channel}`);
    return found;
  }
}

/** A cache streaming its events on a TestTransport, and the events connection once the bus is up. */
async function streaming(options: { secret?: string; maxMessageBytes?: number; publishTimeout?: number } = {}) {
  const namespace = uniqueNamespace('events');
  const transport = new TestTransport();
  const cache = makeCache<unknown>({ namespace, transport, events: { bus: true }, ...options });
  await waitFor(() => cache.stats().bus === 'up', 'bus up');
  return { cache, namespace, transport, events: transport.line(eventsChannelFor(namespace)) };
}

function decoded(namespace: string, payloads: readonly string[], signer?: MessageSigner) {
  return payloads.map((p) => {
    const message = decodeEvents(namespace, p, 1_048_576, signer);
    if (typeof message === 'string') throw new Error(`refused: ${message}`);
    return message;
  });
}

describe('events: { bus: true }', () => {
  it('is off by default: no events channel is opened and nothing more is built', async () => {
    const namespace = uniqueNamespace('events');
    const transport = new TestTransport();
    const cache = makeCache<unknown>({ namespace, transport });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    await cache.set('k', 1);
    expect(transport.lines.map((l) => l.channel)).toEqual([channelFor(namespace)]);
    expect(cache.stats().events).toEqual({ published: 0, dropped: 0 });
  });

  it('publishes set, delete, clear and expire with their keys and times, never a value and never a read', async () => {
    const { cache, namespace, events } = await streaming();
    const before = Date.now();
    await cache.set('user:1', { secret: 'VALUE-1' });
    await cache.get('user:1');
    await cache.get('absent');
    await cache.setMany([
      { key: 'a', value: 'VALUE-2' },
      { key: 'b', value: 'VALUE-3' },
    ]);
    await cache.delete('a');
    await cache.set('short', 'VALUE-4', { ttl: 30 });
    // Past its life on both clocks: the store's (Date.now()) and memory's (performance.now()).
    const [wall, mono] = [Date.now() + 30, performance.now() + 30];
    while (Date.now() <= wall || performance.now() <= mono) await new Promise((resolve) => setTimeout(resolve, 5));
    await cache.keyv.delete('short');
    await cache.get('short');
    await cache.clear();
    await waitFor(() => cache.stats().events.published === 7, 'the events published');
    const batches = decoded(namespace, events.sent);
    const all = batches.flatMap((b) => b.events.map(({ event, key }) => [event, key]));
    expect(all).toEqual([
      ['set', 'user:1'],
      ['set', 'a'],
      ['set', 'b'],
      ['delete', 'a'],
      ['set', 'short'],
      ['expire', 'short'],
      ['clear', undefined],
    ]);
    for (const batch of batches) {
      expect(batch.origin).toBe(cache.instanceId);
      for (const e of batch.events) expect(e.at).toSatisfy((at: number) => at >= before && at <= Date.now());
    }
    expect(batches.map((b) => b.seq)).toEqual(batches.map((_, i) => i + 1));
    expect(events.sent.join('\n')).not.toMatch(/VALUE|absent/);
    expect(cache.stats().events).toEqual({ published: 7, dropped: 0 });
  });

  it("streams the stash's push and pop, emitted on the cache", async () => {
    const { cache, namespace, events } = await streaming();
    const emitter = cache as unknown as EventEmitter;
    emitter.emit('push', { key: '0001', at: 1_700_000_000_000, instance: cache.instanceId });
    emitter.emit('pop', { key: '0001', at: 1_700_000_000_001, instance: cache.instanceId });
    await waitFor(() => events.sent.length === 1, 'the batch');
    expect(decoded(namespace, events.sent)[0]?.events).toEqual([
      { event: 'push', key: '0001', at: 1_700_000_000_000 },
      { event: 'pop', key: '0001', at: 1_700_000_000_001 },
    ]);
  });

  it("streams a real stash's push and pop even when nobody listens to them", async () => {
    const namespace = uniqueNamespace('events');
    const transport = new TestTransport();
    const stash = new Stash<string>({ namespace, transport, events: { bus: true } });
    try {
      await waitFor(() => stash.cache.stats().bus === 'up', 'bus up');
      expect(stash.cache.listenerCount('push') + stash.cache.listenerCount('pop')).toBe(0);
      const id = await stash.push('VALUE');
      expect(await stash.pop()).toBe('VALUE');
      const events = transport.line(eventsChannelFor(namespace));
      const streamed = () => decoded(namespace, events.sent).flatMap((b) => b.events.map(({ event, key }) => [event, key]));
      await waitFor(() => streamed().some(([event]) => event === 'pop'), 'the pop streamed');
      // Besides the push and the pop, the stream carries the write and the delete they made.
      expect(streamed().filter(([event]) => event === 'push' || event === 'pop')).toEqual([
        ['push', id],
        ['pop', id],
      ]);
    } finally {
      await stash.cache.close();
    }
  });

  it('never delays the write: with the channel not answering, writes resolve, one publish is in flight, the rest go in one batch after', async () => {
    const { cache, namespace, events } = await streaming();
    events.hold = true;
    await cache.set('k1', 1);
    await waitFor(() => events.held.length === 1, 'the first publish');
    for (let i = 2; i <= 50; i++) await cache.set(`k${i}`, i);
    expect(events.held).toHaveLength(1);
    events.held.shift()?.settle();
    await waitFor(() => events.held.length === 1, 'the second publish');
    const second = decodeEvents(namespace, events.held[0]?.payload, 1_048_576);
    expect(typeof second === 'string' ? second : second.events.map((e) => e.key)).toEqual(
      Array.from({ length: 49 }, (_, i) => `k${i + 2}`),
    );
    events.held.shift()?.settle();
    await waitFor(() => cache.stats().events.published === 50, 'all published');
  });

  it('a batch whose publish fails or times out is dropped and counted, and the next message says so', async () => {
    const { cache, namespace, events } = await streaming({ publishTimeout: 50 });
    events.hold = true;
    await cache.set('a', 1);
    await waitFor(() => events.held.length === 1, 'the publish');
    events.held.shift()?.settle(new Error('READONLY'));
    await waitFor(() => cache.stats().events.dropped === 1, 'the drop');
    await cache.set('b', 1);
    // Never answered: given up after publishTimeout.
    await waitFor(() => cache.stats().events.dropped === 2, 'the timeout', 2_000);
    events.hold = false;
    await cache.set('c', 1);
    await waitFor(() => events.sent.length === 1, 'the next message');
    const [message] = decoded(namespace, events.sent);
    expect(message).toMatchObject({ dropped: 2, events: [{ event: 'set', key: 'c' }] });
    expect(cache.stats().events).toEqual({ published: 1, dropped: 2 });
  });

  it('while the channel is down, events are dropped at once and counted; writes go on; back up, it streams again', async () => {
    const { cache, namespace, events } = await streaming();
    events.handlers.down(new Error('connection lost'));
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i);
    expect(cache.stats().events).toEqual({ published: 0, dropped: 5 });
    expect(events.sent).toEqual([]);
    events.handlers.up();
    await cache.delete('k0');
    await waitFor(() => events.sent.length === 1, 'the message after the outage');
    expect(decoded(namespace, events.sent)[0]).toMatchObject({ dropped: 5, events: [{ event: 'delete', key: 'k0' }] });
  });

  it('cuts batches to maxMessageBytes, and drops an event too large for any message', async () => {
    const { cache, namespace, events } = await streaming({ maxMessageBytes: 1_024 });
    events.hold = true;
    await cache.set('first', 1);
    await waitFor(() => events.held.length === 1, 'the first publish');
    const keys = Array.from({ length: 40 }, (_, i) => `key-${String(i).padStart(3, '0')}-${'x'.repeat(40)}`);
    for (const key of keys) await cache.set(key, 1);
    await cache.set('y'.repeat(2_000), 1);
    events.hold = false;
    events.held.shift()?.settle();
    await waitFor(() => cache.stats().events.published === 41 && cache.stats().events.dropped === 1, 'every event that fits, and the drop');
    const batches = decoded(namespace, events.sent);
    expect(batches.length).toBeGreaterThan(2);
    for (const payload of events.sent) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(1_024);
    expect(batches.flatMap((b) => b.events.map((e) => e.key))).toEqual(['first', ...keys]);
    // The next message tells watchers of the drop.
    await cache.delete('first');
    await waitFor(() => cache.stats().events.published === 42, 'the next message');
    expect(decoded(namespace, events.sent).at(-1)).toMatchObject({ dropped: 1, events: [{ event: 'delete', key: 'first' }] });
  });

  it('close() sends what is queued, then closes the events connection', async () => {
    const { cache, namespace, events } = await streaming();
    events.hold = true;
    await cache.set('a', 1);
    await waitFor(() => events.held.length === 1, 'the publish');
    await cache.set('b', 1);
    const closing = cache.close();
    events.held.shift()?.settle();
    await waitFor(() => events.held.length === 1, 'the queued batch, sent by close');
    events.held.shift()?.settle();
    await closing;
    expect(decoded(namespace, events.sent).flatMap((b) => b.events.map((e) => e.key))).toEqual(['a', 'b']);
    expect(events.closed).toBe(true);
  });

  it("while the channel has not come up, what waits is bounded by key bytes too: long keys are dropped and counted past 16 messages' worth", async () => {
    const inner = new TestTransport();
    // The bus comes up; the events channel never does.
    const transport: BusTransport = {
      echoesOwnMessages: inner.echoesOwnMessages,
      open: (channel, handlers) => inner.open(channel, channel.endsWith(':events') ? { ...handlers, up: () => {} } : handlers),
    };
    const cache = makeCache<number>({ namespace: uniqueNamespace('events'), transport, events: { bus: true }, maxMessageBytes: 1_000 });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    // 16 messages of 1,000 bytes hold 16,000 characters of keys: 16 keys of 1,000, then none.
    for (let i = 0; i < 20; i++) await cache.set(`${String(i).padStart(3, '0')}${'k'.repeat(997)}`, i);
    expect(cache.stats().events).toEqual({ published: 0, dropped: 4 });
    // Full to the last character: even a short key is dropped now.
    await cache.set('short', 1);
    expect(cache.stats().events.dropped).toBe(5);
  });

  it('close() drains for at most publishTimeout in all: a slow Redis with a long queue does not stretch it batch by batch', async () => {
    // Batches of a few events each, and a Redis that answers every publish, slowly (60 ms).
    const { cache, events } = await streaming({ publishTimeout: 200, maxMessageBytes: 600 });
    events.hold = true;
    let answered = 0;
    const slowRedis = setInterval(() => {
      for (const call of events.held.splice(0)) {
        setTimeout(() => {
          answered++;
          call.settle();
        }, 60);
      }
    }, 5);
    onTestFinished(() => clearInterval(slowRedis));
    await cache.setMany(Array.from({ length: 300 }, (_, i) => ({ key: `key-${String(i).padStart(4, '0')}`, value: i })));
    await cache.close();
    // The batch in flight when the drain ran out is counted when it settles.
    await waitFor(() => cache.stats().events.published + cache.stats().events.dropped === 300, 'every event counted');
    const { dropped } = cache.stats().events;
    // Sent one by one, the queue takes dozens of batches (several seconds); within the bound, a handful.
    expect(dropped).toBeGreaterThan(150);
    expect(answered).toBeLessThan(10);
    expect(events.closed).toBe(true);
  });

  it('signs every batch with the secret, for the events channel of its namespace only', async () => {
    const { cache, namespace, events } = await streaming({ secret: 'event-secret' });
    await cache.set('k', 1);
    await waitFor(() => events.sent.length === 1, 'the batch');
    const payload = events.sent[0] as string;
    const signer = new MessageSigner('event-secret');
    expect(decoded(namespace, [payload], signer)[0]?.events).toEqual([{ event: 'set', key: 'k', at: expect.any(Number) }]);
    expect(decodeEvents(namespace, payload, 1_048_576)).toBe('a signed message, and no secret to check it with');
    expect(decodeEvents(namespace, payload, 1_048_576, new MessageSigner('another'))).toMatch(/^bad signature/);
    // Unsigned, it is refused by whoever has the secret.
    expect(decodeEvents(namespace, payload.slice(0, -44), 1_048_576, signer)).toMatch(/^no signature/);
    // The same body signed for the invalidation channel does not verify here.
    const body = payload.slice(0, -44);
    const forInvalidations = signer.sign(body, channelFor(namespace), namespace);
    expect(decodeEvents(namespace, forInvalidations, 1_048_576, signer)).toMatch(/^bad signature/);
  });

  it('option rules: an object with a boolean bus, no unknown keys, and a bus to travel on; nothing is built otherwise', () => {
    const transport = new TestTransport();
    const cases: [unknown, RegExp][] = [
      [5, /^synced-cache: option "events" must be an object, got 5$/],
      [{ bus: 'yes' }, /^synced-cache: option "events.bus" must be true or false, got "yes"$/],
      [{ bux: true }, /^synced-cache: unknown option "events.bux" \(did you mean "events.bus"\?\); known options of "events": bus$/],
    ];
    for (const [events, message] of cases) {
      expect(() => new SyncedCache({ transport, events } as never)).toThrow(TypeError);
      expect(() => new SyncedCache({ transport, events } as never)).toThrow(message);
    }
    expect(() => new SyncedCache({ events: { bus: true } })).toThrow(
      new TypeError(
        'synced-cache: option "events.bus" needs a bus (option "redis" or "transport"): the events travel on its channel synced-cache:<namespace>:events',
      ),
    );
    expect(transport.lines).toEqual([]);
    // Off needs nothing.
    makeCache({ events: { bus: false } });
    makeCache({ events: {} });
  });
});

describe('EventPublisher', () => {
  it('keeps at most maxQueued events waiting; past it, new ones are dropped and counted', async () => {
    const transport = new TestTransport();
    const publisher = new EventPublisher(transport, {
      namespace: 'q',
      instance: 'me',
      signer: undefined,
      maxMessageBytes: 1_048_576,
      publishTimeout: 0,
      maxQueued: 3,
    });
    const line = transport.line(eventsChannelFor('q'));
    line.hold = true;
    // Before the channel first comes up, events wait for it.
    for (let i = 0; i < 5; i++) publisher.write('set', `k${i}`, i);
    expect(publisher.queued).toBe(3);
    expect(publisher.dropped).toBe(2);
    await waitFor(() => line.held.length === 1, 'the first batch once up');
    line.held.shift()?.settle();
    await waitFor(() => publisher.published === 3, 'published');
    const [message] = decoded('q', line.sent);
    expect(message).toEqual({
      origin: 'me',
      seq: 1,
      dropped: 2,
      events: [0, 1, 2].map((i) => ({ event: 'set', key: `k${i}`, at: i })),
    });
    await publisher.close();
    publisher.write('set', 'late', 9);
    expect(publisher.dropped).toBe(3);
  });
});

describe('decodeEvents', () => {
  const ns = 'codec';
  const record = fc.record({
    event: fc.constantFrom(...STREAMED_EVENTS),
    key: fc.string({ unit: 'binary' }),
    // -0 travels as 0 (JSON has no -0); the publisher is given Date.now() values, and any time a Date can hold travels.
    at: fc.oneof(
      fc.integer({ min: 0, max: 2 ** 45 }),
      fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true }).filter((x) => !Object.is(x, -0)),
    ),
  });

  /** What the publisher sends for `events`, through the publisher itself. */
  async function sentFor(events: { event: (typeof STREAMED_EVENTS)[number]; key: string; at: number }[], secret?: string) {
    const transport = new TestTransport();
    const publisher = new EventPublisher(transport, {
      namespace: ns,
      instance: 'origin-1',
      signer: secret === undefined ? undefined : new MessageSigner(secret),
      maxMessageBytes: 1_048_576,
      publishTimeout: 0,
    });
    for (const e of events) publisher.write(e.event, e.event === 'clear' ? undefined : e.key, e.at);
    await waitFor(() => publisher.published + publisher.dropped === events.length, 'sent');
    await publisher.close();
    return transport.line(eventsChannelFor(ns)).sent;
  }

  it('round-trips every batch the publisher sends, signed or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 8 }), fc.boolean(), async (events, signed) => {
        const secret = signed ? 's3cret' : undefined;
        const sent = await sentFor(events, secret);
        const got = decoded(ns, sent, secret === undefined ? undefined : new MessageSigner(secret)).flatMap((m) => m.events);
        expect(got).toEqual(events.map((e) => ({ event: e.event, key: e.event === 'clear' ? undefined : e.key, at: e.at })));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses anything else: other forms, fields, types, namespaces, and every mutation of a valid batch', async () => {
    const [valid] = await sentFor([
      { event: 'set', key: 'k', at: 1 },
      { event: 'clear', key: '', at: 2 },
    ]);
    expect(valid).toBe('{"v":1,"ns":"codec","t":"e","o":"origin-1","q":1,"d":0,"e":[["set",1,"k"],["clear",2]]}');
    const refused = (payload: unknown) => expect(typeof decodeEvents(ns, payload, 1_048_576), String(payload)).toBe('string');
    for (const payload of [
      undefined,
      42,
      'not json',
      '[]',
      valid?.replace('"ns":"codec"', '"ns":"other"'),
      valid?.replace('"t":"e"', '"t":"i"'),
      valid?.replace('"v":1', '"v":2'),
      valid?.replace('"o":"origin-1"', '"o":""'),
      valid?.replace('"q":1', '"q":-1'),
      valid?.replace('"d":0', '"d":0.5'),
      valid?.replace('["set",1,"k"]', '["get",1,"k"]'),
      valid?.replace('["set",1,"k"]', '["set",1]'),
      valid?.replace('["clear",2]', '["clear",2,"k"]'),
      valid?.replace('["set",1,"k"]', '["set","1","k"]'),
      valid?.replace('["set",1,"k"]', '["set",1,"k","value"]'),
      valid?.replace('{"v":1,', '{"__proto__":{},"v":1,'),
      valid?.replace('{"v":1,"ns":"codec"', '{"ns":"codec","v":1'),
      valid?.replace('}', ',"x":1}'),
      valid?.replace(':', ': '),
    ]) {
      refused(payload);
    }
    expect(decodeEvents(ns, valid, 10)).toMatch(/exceeds maxMessageBytes/);
    // Any one-character change: never a throw, and what is accepted is exactly what the encoder writes for it.
    let accepted = 0;
    fc.assert(
      fc.property(fc.nat({ max: (valid?.length ?? 1) - 1 }), fc.string({ maxLength: 2 }), fc.boolean(), (at, text, replace) => {
        const mutated = `${valid?.slice(0, at)}${text}${valid?.slice(at + (replace ? 1 : 0))}`;
        const result = decodeEvents(ns, mutated, 1_048_576);
        if (typeof result === 'string') return;
        accepted++;
        const records = result.events.map((e) => encodeEventRecord(e.event, e.key, e.at));
        expect(encodeEvents(ns, eventsHead(ns, result.origin, result.seq, result.dropped), records)).toBe(mutated);
      }),
      { numRuns: 5_000 },
    );
    expect(accepted).toBeLessThan(5_000);
  });

  it("refuses, even in the encoder's very form, an event time a Date cannot hold and a sender id longer than 128 characters", async () => {
    // A watcher shows every time as a date, and remembers every sender's last sequence number.
    const [valid] = await sentFor([
      { event: 'set', key: 'k', at: 1 },
      { event: 'clear', key: '', at: 2 },
    ]);
    expect(decodeEvents(ns, valid?.replace('["set",1,"k"]', '["set",1e+300,"k"]'), 1_048_576)).toBe('an event without a valid time');
    expect(decodeEvents(ns, valid?.replace('["clear",2]', '["clear",-8640000000000001]'), 1_048_576)).toBe('an event without a valid time');
    expect(decodeEvents(ns, valid?.replace('["clear",2]', '["clear",8640000000000000]'), 1_048_576)).toMatchObject({
      events: [{ at: 1 }, { at: 8.64e15 }],
    });
    expect(decodeEvents(ns, valid?.replace('"o":"origin-1"', `"o":"${'o'.repeat(129)}"`), 1_048_576)).toBe(
      'a sender id of 129 characters (at most 128)',
    );
    expect(decodeEvents(ns, valid?.replace('"o":"origin-1"', `"o":"${'o'.repeat(128)}"`), 1_048_576)).toMatchObject({
      origin: 'o'.repeat(128),
    });
  });
});
