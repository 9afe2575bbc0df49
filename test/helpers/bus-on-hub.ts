import { expect } from 'vitest';
import { Bus, type BusOptions } from '../../src/bus/bus.js';
import { channelFor, encodeMessage, MessageType, type TransportConnection } from '../../src/index.js';
import { Hub } from './hub.js';

const NAMESPACE = 'bus-on-hub';

/** A Bus (the core's part, alone) on the hub, with a manual clock, and a raw connection on the same hub to post what forged or real senders would. */
export async function busOnHub(options: Partial<BusOptions> = {}) {
  let now = 0;
  const clock = { now: () => now };
  const hub = new Hub();
  const gaps: string[] = [];
  const bus = new Bus(
    hub.transport(),
    {
      namespace: NAMESPACE,
      heartbeat: { interval: 100, timeout: 200 },
      maxPendingKeys: 100,
      maxMessageBytes: 1 << 20,
      publishTimeout: 200,
      clock,
      ...options,
    },
    { invalidate: () => {}, gap: (origin) => gaps.push(origin), status: () => {}, error: () => {} },
  );
  const raw: TransportConnection = hub.transport().open(channelFor(NAMESPACE), {
    message: () => {},
    up: () => {},
    down: () => {},
    error: () => {},
  });
  // The hub reports up on a microtask (no timers: some tests fake them).
  await Promise.resolve();
  expect(bus.status).toBe('up');
  const heartbeat = (origin: string, seq: number) =>
    raw.publish(encodeMessage(NAMESPACE, { type: MessageType.Heartbeat, origin, seq, nonce: 1, sentAt: Date.now() }));
  const invalidate = (origin: string, seq: number, sentAt = Date.now()) =>
    raw.publish(encodeMessage(NAMESPACE, { type: MessageType.Invalidate, origin, seq, sentAt, keys: ['k'] }));
  return { bus, gaps, heartbeat, invalidate, pass: (ms: number) => (now += ms) };
}
