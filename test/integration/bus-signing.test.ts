import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  type BusMessage,
  channelFor,
  encodeMessage,
  InvalidMessageError,
  MessageSigner,
  MessageType,
  type Secret,
  SyncedCache,
  type SyncedCacheStats,
} from '../../src/index.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { useRedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startWorker, type Worker } from '../helpers/worker.js';

// Real redis-server, real @keyv/redis store, real forked processes (the built package: `npm run build`
// first), and a forger publishing by hand with its own ioredis connection.

const SECRET = 'the secret of this namespace, 32 bytes or more';
const OTHER = 'a secret of some other deployment';
const fast = { interval: 100, timeout: 200 };

const invalidation = (origin: string, seq: number, keys: string[] | '*'): BusMessage => ({
  type: MessageType.Invalidate,
  origin,
  seq,
  sentAt: Date.now(),
  keys,
});

describe('signed bus messages on a real Redis', () => {
  const redis = useRedisServer();

  /** A cache in this process with its own @keyv/redis store, closed (store included) after the test; errors collected from the start. */
  function cache(namespace: string, secret: Secret | undefined) {
    const adapter = new KeyvRedis(redis.url);
    const made = new SyncedCache<unknown>({ namespace, store: adapter, redis: redis.url, heartbeat: fast, secret });
    const errors: Error[] = [];
    made.on('error', (error) => errors.push(error));
    onTestFinished(async () => {
      await made.close();
      await adapter.disconnect();
    });
    return { cache: made, errors };
  }

  function forger() {
    const client = new Redis(redis.url);
    onTestFinished(() => client.disconnect());
    return client;
  }

  async function workers(namespace: string, secrets: (Secret | undefined)[]): Promise<{ worker: Worker; id: string }[]> {
    const started = await Promise.all(secrets.map(() => startWorker()));
    onTestFinished(async () => {
      await Promise.all(started.map((w) => w.call('close').catch(() => {})));
      await Promise.all(started.map((w) => w.kill()));
    });
    return Promise.all(
      started.map(async (worker, i) => {
        const { instanceId } = await worker.call<{ instanceId: string }>('init', {
          namespace,
          redisUrl: redis.url,
          heartbeat: fast,
          secret: secrets[i],
        });
        return { worker, id: instanceId };
      }),
    );
  }

  /** `target` answers `key` from memory. */
  async function fromMemory(target: SyncedCache<unknown>, key: string, value: unknown): Promise<void> {
    const hits = target.stats().hits.memory;
    expect(await target.get(key)).toEqual(value);
    expect(target.stats().hits.memory).toBe(hits + 1);
  }

  it('processes with another secret, or none, cannot evict or flush anything in a cache with a secret; one with the secret can', async () => {
    const namespace = uniqueNamespace('signed');
    const { cache: victim, errors } = cache(namespace, SECRET);
    const [other, none, peer] = (await workers(namespace, [OTHER, undefined, [SECRET, OTHER]])) as [
      { worker: Worker; id: string },
      { worker: Worker; id: string },
      { worker: Worker; id: string },
    ];
    await waitFor(() => victim.stats().bus === 'up', 'the bus up');
    await victim.set('k', 'v1');
    await victim.get('k');
    for (const intruder of [other, none]) {
      await intruder.worker.call('set', { key: 'k', value: 'forged' });
      await intruder.worker.call('delete', { key: 'k' });
      await intruder.worker.call('clear');
    }
    // Each write resolved once Redis had taken its PUBLISH, which Redis hands to every subscriber before
    // answering: the peer's message below reaches the victim after all of theirs.
    await peer.worker.call('set', { key: 'marker', value: 1 });
    await waitFor(() => victim.stats().invalidations.received === 1, "the peer's invalidation");
    await fromMemory(victim, 'k', 'v1');
    expect(victim.stats().flushes).toEqual({ gap: 0, reconnect: 0, clear: 0 });
    // Three writes each, and heartbeats every 100 ms.
    expect(victim.stats().invalidations.ignored).toBeGreaterThanOrEqual(6);
    // The store itself is not protected: the intruders' clear() did empty it.
    expect(await victim.keyv.get('k')).toBeUndefined();
    // Reported once per sender, however many it sent.
    const about = (id: string) => errors.filter((e) => e.message.includes(id));
    expect(about(other.id)).toHaveLength(1);
    expect(about(other.id)[0]).toBeInstanceOf(InvalidMessageError);
    expect(about(other.id)[0]?.message).toMatch(/^ignored a bus message: bad signature \(another secret/);
    expect(about(none.id)).toHaveLength(1);
    expect(about(none.id)[0]?.message).toMatch(/^ignored a bus message: no signature \(unsigned, or truncated\)/);
    expect(errors).toHaveLength(2);
    // The process without a secret cannot read signed messages either.
    expect((await none.worker.call<SyncedCacheStats>('stats')).invalidations.received).toBe(0);
    // The control: a process that verifies with the secret, and signs with it, is heard.
    await peer.worker.call('set', { key: 'k', value: 'v2' });
    await waitFor(() => victim.stats().invalidations.received === 2, "the peer's second invalidation");
    expect(await victim.get('k')).toBe('v2');
  });

  it('a forger publishing by hand changes nothing: unsigned, badly signed, truncated, extended, for another namespace or channel, or replayed', async () => {
    const namespace = uniqueNamespace('forged');
    const channel = channelFor(namespace);
    const { cache: victim, errors } = cache(namespace, SECRET);
    const publisher = forger();
    await waitFor(() => victim.stats().bus === 'up', 'the bus up');
    await victim.set('k', 'v1');
    await victim.get('k');
    const right = new MessageSigner(SECRET);
    const wrong = new MessageSigner(OTHER);
    const signed = encodeMessage(namespace, invalidation('forger', 1, '*'), right);
    const forged = [
      encodeMessage(namespace, invalidation('forger', 1, ['k'])),
      encodeMessage(namespace, invalidation('forger', 1, '*')),
      encodeMessage(namespace, invalidation('forger', 1, '*'), wrong),
      signed.slice(0, -1),
      signed.slice(0, -44),
      `${signed}=`,
      signed.replace('"k":"*"', '"k":["k"]'),
      encodeMessage(namespace, invalidation('forger', 1, ['k']), right).slice(0, -43) + signed.slice(-43),
      encodeMessage(`${namespace}-2`, invalidation('forger', 1, '*'), right),
      right.sign(encodeMessage(namespace, invalidation('forger', 1, '*')), channelFor(`${namespace}-2`), `${namespace}-2`),
      right.sign(encodeMessage(namespace, invalidation('forger', 1, '*')), `${channel}:events`, namespace),
      // A heartbeat announcing a number never sent would flush memory as a gap.
      encodeMessage(namespace, { type: MessageType.Heartbeat, origin: 'forger', seq: 1_000, nonce: 1, sentAt: Date.now() }, wrong),
      'x'.repeat(2_000_000),
    ];
    for (const payload of forged) await publisher.publish(channel, payload);
    // The forger's connection delivers in order: once this one, rightly signed, is applied, all were seen.
    const marker = encodeMessage(namespace, invalidation('marker', 1, ['k']), right);
    await publisher.publish(channel, marker);
    await waitFor(() => victim.stats().invalidations.received === 1, 'the marker');
    expect(victim.stats().invalidations.ignored).toBe(forged.length);
    expect(victim.stats().flushes).toEqual({ gap: 0, reconnect: 0, clear: 0 });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e instanceof InvalidMessageError)).toBe(true);
    // The marker evicted k, rightly. Replayed, it does nothing: its sender is known, its number heard.
    expect(await victim.get('k')).toBe('v1');
    await publisher.publish(channel, marker);
    await publisher.publish(channel, marker);
    await publisher.publish(channel, encodeMessage(namespace, invalidation('marker', 2, ['other']), right));
    await waitFor(() => victim.stats().invalidations.received === 2, 'the next marker');
    await fromMemory(victim, 'k', 'v1');
    expect(victim.stats().invalidations.ignored).toBe(forged.length);
  });

  describe('rotation', () => {
    const OLD = 'the secret until today';
    const NEW = 'the secret from today';

    /** Whether a write in a cache on `sender` evicts the key from a cache on `receiver`. */
    async function hears(sender: Secret, receiver: Secret): Promise<boolean> {
      const namespace = uniqueNamespace('rotation');
      const from = cache(namespace, sender).cache;
      const to = cache(namespace, receiver).cache;
      const publisher = forger();
      await waitFor(() => from.stats().bus === 'up' && to.stats().bus === 'up', 'buses up');
      await to.set('k', 'before');
      await to.get('k');
      await from.set('k', 'after');
      // A marker the receiver surely accepts, published after the write: once applied, the write's message was seen.
      const first = (Array.isArray(receiver) ? receiver[0] : receiver) as string;
      await publisher.publish(channelFor(namespace), encodeMessage(namespace, invalidation('marker', 1, ['m']), new MessageSigner(first)));
      await waitFor(() => to.stats().invalidations.received >= 1, 'the marker');
      return (await to.get('k')) === 'after';
    }

    it('a receiver on [new, old] hears a sender still on [old]; one still on [old] does not hear a sender on [new, old]', async () => {
      expect(await hears([OLD], [NEW, OLD])).toBe(true);
      expect(await hears([NEW, OLD], [OLD])).toBe(false);
    });

    it('adding the new key as a verifier first ([old, new]), then signing with it ([new, old]), then dropping the old keeps everyone hearing', async () => {
      const steps: Secret[] = [[OLD], [OLD, NEW], [NEW, OLD], [NEW]];
      for (let i = 0; i + 1 < steps.length; i++) {
        const [before, after] = [steps[i] as Secret, steps[i + 1] as Secret];
        expect([i + 1, await hears(before, after), await hears(after, before)]).toEqual([i + 1, true, true]);
      }
    });
  });
});
