import { BroadcastChannel } from 'node:worker_threads';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BroadcastChannelTransport, channelFor, decodeMessage, encodeMessage, InvalidMessageError, MessageType } from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

/** A raw peer on the namespace's channel, to inject messages and watch what the caches send. */
function rawPeer(namespace: string) {
  const channel = new BroadcastChannel(channelFor(namespace));
  // Invalidations only: heartbeats come and go with time.
  const seen: string[] = [];
  channel.onmessage = (event: unknown) => {
    const data = (event as { data: unknown }).data;
    if (typeof data === 'string' && data.includes('"t":"i"')) seen.push(data);
  };
  return {
    seen,
    post: (payload: unknown) => channel.postMessage(payload),
    close: () => channel.close(),
  };
}

async function twoCaches(namespace = uniqueNamespace()) {
  const transport = new BroadcastChannelTransport();
  const store = new Map();
  const a = makeCache<unknown>({ namespace, store, transport });
  const b = makeCache<unknown>({ namespace, store, transport });
  await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
  return { a, b, namespace };
}

describe('invalidation between instances', () => {
  it("a write in one instance drops the key from the other's memory, which then reads the new value", async () => {
    const { a, b } = await twoCaches();
    await a.set('k', 1);
    await waitFor(() => b.stats().invalidations.received === 1, 'the first invalidation');
    expect(await b.get('k')).toBe(1);
    expect(await b.get('k')).toBe(1);
    expect(b.stats().hits.memory).toBe(1);
    const events: unknown[] = [];
    b.on('invalidate', (e) => events.push(e));
    await a.set('k', 2);
    await waitFor(() => events.length === 1, 'the invalidation');
    expect(events[0]).toEqual({ keys: ['k'], origin: a.instanceId, at: expect.any(Number), instance: b.instanceId });
    expect(await b.get('k')).toBe(2);
    await a.delete('k');
    await waitFor(() => events.length === 2, 'the delete');
    expect(await b.get('k')).toBeUndefined();
  });

  it('an instance ignores its own messages: what it wrote stays in its memory', async () => {
    const { a, namespace } = await twoCaches();
    const peer = rawPeer(namespace);
    try {
      await a.set('k', 1);
      await waitFor(() => peer.seen.length === 1, 'the message on the channel');
      // Play the instance's own message back to it, as Redis does, then a foreign one from the same
      // poster: messages from one poster arrive in order, so once the second is applied the first was seen.
      peer.post(peer.seen[0]);
      peer.post(encodeMessage(namespace, { type: MessageType.Invalidate, origin: 'peer', seq: 1, sentAt: Date.now(), keys: ['marker'] }));
      await waitFor(() => a.stats().invalidations.received === 1, 'the marker');
      expect(await a.get('k')).toBe(1);
      expect(a.stats().hits.memory).toBe(1);
    } finally {
      peer.close();
    }
  });

  it('setMany and deleteMany announce a batch in one message', async () => {
    const { a, namespace } = await twoCaches();
    const peer = rawPeer(namespace);
    try {
      await a.setMany([
        { key: 'x', value: 1 },
        { key: 'y', value: 2 },
        { key: 'z', value: 3, ttl: 60_000 },
      ]);
      await a.deleteMany(['x', 'y']);
      await waitFor(() => peer.seen.length === 2, 'two messages');
      const decoded = peer.seen.map((p) => decodeMessage(namespace, p, 1 << 20));
      expect(decoded).toMatchObject([
        { type: 'i', keys: ['x', 'y', 'z'], seq: 1 },
        { type: 'i', keys: ['x', 'y'], seq: 2 },
      ]);
    } finally {
      peer.close();
    }
  });

  it("clear empties every instance's memory in the namespace, and no other namespace", async () => {
    const { a, b } = await twoCaches();
    const other = await twoCaches();
    await a.set('k', 1);
    await other.a.set('k', 'other');
    await waitFor(() => b.stats().invalidations.received === 1 && other.b.stats().invalidations.received === 1, 'the writes to arrive');
    expect(await b.get('k')).toBe(1);
    expect(await other.b.get('k')).toBe('other');
    await a.clear();
    await waitFor(() => b.stats().flushes.clear === 1, 'B to apply the clear');
    expect(b.stats().memorySize).toBe(0);
    expect(await b.get('k')).toBeUndefined();
    expect(other.b.stats().flushes.clear).toBe(0);
    expect(await other.b.get('k')).toBe('other');
    expect(other.b.stats().hits.memory).toBe(1);
  });

  it('namespaces are isolated: same key, separate values, invalidations do not cross', async () => {
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const users = makeCache({ namespace: uniqueNamespace('users'), store, transport });
    const posts = makeCache({ namespace: uniqueNamespace('posts'), store, transport });
    await waitFor(() => users.stats().bus === 'up' && posts.stats().bus === 'up', 'buses up');
    const peer = rawPeer(posts.namespace);
    onTestFinished(() => peer.close());
    await users.set('1', 'user one');
    await posts.set('1', 'post one');
    expect(await users.get('1')).toBe('user one');
    expect(await posts.get('1')).toBe('post one');
    await posts.set('1', 'post one, edited');
    // Once the posts message has been seen on its channel, a crossing message would have arrived too.
    await waitFor(() => peer.seen.length === 2, 'the posts messages');
    expect(await users.get('1')).toBe('user one');
    expect(users.stats().invalidations.received).toBe(0);
    expect(users.stats().hits.memory).toBe(2);
  });
});

describe('bad messages on the channel', () => {
  it.each([
    ['not JSON', '{nope'],
    ['not a string', 42],
    ['a foreign namespace', JSON.stringify({ v: 1, ns: 'someone-else', t: 'i', o: 'x', q: 1, ts: 0, k: ['k'] })],
    ['an unknown version', JSON.stringify({ v: 99, ns: '$ns', t: 'i', o: 'x', q: 1, ts: 0, k: ['k'] })],
    ['an unknown type', JSON.stringify({ v: 1, ns: '$ns', t: 'zz', o: 'x', q: 1, ts: 0 })],
    ['non-string keys', JSON.stringify({ v: 1, ns: '$ns', t: 'i', o: 'x', q: 1, ts: 0, k: [1, 2] })],
    ['no sender', JSON.stringify({ v: 1, ns: '$ns', t: 'i', q: 1, ts: 0, k: ['k'] })],
    ['an oversized payload', 'x'.repeat(2_000_000)],
  ])('%s is ignored, counted and reported, and evicts nothing', async (_, payload) => {
    const { a, namespace } = await twoCaches();
    await a.set('k', 1);
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    const peer = rawPeer(namespace);
    try {
      peer.post(typeof payload === 'string' ? payload.replace('$ns', namespace) : payload);
      await waitFor(() => a.stats().invalidations.ignored === 1, 'the message to be ignored');
      expect(errors[0]).toBeInstanceOf(InvalidMessageError);
      expect(errors[0]?.message).toMatch(/^ignored a bus message: /);
      expect(await a.get('k')).toBe(1);
      expect(a.stats().hits.memory).toBe(1);
    } finally {
      peer.close();
    }
  });

  it('does not throw when nobody listens for errors', async () => {
    const { a, namespace } = await twoCaches();
    const peer = rawPeer(namespace);
    try {
      peer.post('garbage');
      await waitFor(() => a.stats().invalidations.ignored === 1, 'the message to be ignored');
      expect(a.listenerCount('error')).toBe(0);
    } finally {
      peer.close();
    }
  });
});

describe('lost messages are noticed by their sequence numbers', () => {
  const invalidate = (namespace: string, seq: number, keys: string[]) =>
    encodeMessage(namespace, { type: MessageType.Invalidate, origin: 'peer-1', seq, sentAt: Date.now(), keys });
  const heartbeat = (namespace: string, seq: number) =>
    encodeMessage(namespace, { type: MessageType.Heartbeat, origin: 'peer-1', seq, nonce: 1, sentAt: Date.now() });

  it("a gap in a sender's invalidations drops the whole memory tier", async () => {
    const { a, namespace } = await twoCaches();
    const peer = rawPeer(namespace);
    try {
      await a.set('unrelated', 1);
      peer.post(invalidate(namespace, 1, ['x']));
      peer.post(invalidate(namespace, 2, ['y']));
      await waitFor(() => a.stats().invalidations.received === 2, 'two invalidations');
      expect(a.stats().flushes.gap).toBe(0);
      expect(await a.get('unrelated')).toBe(1);
      expect(a.stats().hits.memory).toBe(1);
      peer.post(invalidate(namespace, 4, ['z']));
      await waitFor(() => a.stats().flushes.gap === 1, 'the gap to be noticed');
      expect(a.stats().memorySize).toBe(0);
    } finally {
      peer.close();
    }
  });

  it('a heartbeat announcing a sequence number never received drops the whole memory tier', async () => {
    const { a, namespace } = await twoCaches();
    const peer = rawPeer(namespace);
    try {
      peer.post(invalidate(namespace, 7, ['x']));
      peer.post(heartbeat(namespace, 7));
      await waitFor(() => a.stats().invalidations.received === 1, 'the invalidation');
      await a.set('k', 1);
      peer.post(heartbeat(namespace, 8));
      await waitFor(() => a.stats().flushes.gap === 1, 'the gap to be noticed');
      expect(a.stats().memorySize).toBe(0);
    } finally {
      peer.close();
    }
  });

  it('a duplicate (a number already heard from its sender, such as a replay) is dropped: not applied again, not a gap', async () => {
    const { a, namespace } = await twoCaches();
    const peer = rawPeer(namespace);
    try {
      await a.set('k', 1);
      const first = invalidate(namespace, 5, ['k']);
      peer.post(first);
      await waitFor(() => a.stats().invalidations.received === 1, 'the invalidation');
      expect(await a.get('k')).toBe(1);
      expect(await a.get('k')).toBe(1);
      const hits = a.stats().hits.memory;
      expect(hits).toBe(1);
      // Played back as it was, then the sender's next number: once that is applied, the copy was seen.
      peer.post(first);
      peer.post(invalidate(namespace, 6, ['marker']));
      await waitFor(() => a.stats().invalidations.received === 2, 'the next invalidation');
      expect(await a.get('k')).toBe(1);
      expect(a.stats().hits.memory).toBe(hits + 1);
      expect(a.stats().flushes.gap).toBe(0);
      expect(a.stats().invalidations.ignored).toBe(0);
    } finally {
      peer.close();
    }
  });
});
