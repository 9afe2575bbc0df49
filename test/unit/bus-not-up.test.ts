import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Bus, NOT_UP_BEATS } from '../../src/bus/bus.js';
import { BusError, type BusTransport, type TransportHandlers } from '../../src/index.js';

/** A transport like Redis (echoing), whose subscription comes up only when the test says so. */
class ManualTransport implements BusTransport {
  readonly echoesOwnMessages = true;
  handlers: TransportHandlers | undefined;
  open(_channel: string, handlers: TransportHandlers) {
    this.handlers = handlers;
    return {
      publish: async (payload: string) => {
        // An echo, as Redis gives, but only once the subscription is up.
        if (this.up) queueMicrotask(() => handlers.message(payload));
      },
      close: async () => {},
    };
  }
  up = false;
}

function setup() {
  const transport = new ManualTransport();
  const notUp: Error[] = [];
  const downs: (Error | undefined)[] = [];
  const bus = new Bus(
    transport,
    {
      namespace: 'nu',
      heartbeat: { interval: 100, timeout: 200 },
      maxPendingKeys: 10,
      maxMessageBytes: 1 << 20,
      publishTimeout: 200,
      clock: { now: () => Date.now() },
    },
    {
      invalidate: () => {},
      gap: () => {},
      status: (status, _previous, reason) => {
        if (status === 'down') downs.push(reason);
      },
      error: () => {},
      notUp: (reason) => notUp.push(reason),
    },
  );
  return { bus, transport, notUp, downs };
}

describe('a bus that does not come up says so, once, with what failed', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it(`after ${NOT_UP_BEATS} heartbeat intervals, naming the transport's last error`, async () => {
    const { bus, transport, notUp, downs } = setup();
    await Promise.resolve();
    transport.handlers?.down(new BusError('the subscriber connection to Redis closed: connect ECONNREFUSED 127.0.0.1:6549'));
    // The first failure puts the 'connecting' bus down, with the reason.
    expect(downs.map((d) => d?.message)).toEqual(['the subscriber connection to Redis closed: connect ECONNREFUSED 127.0.0.1:6549']);
    transport.handlers?.error(new BusError('Redis subscriber: WRONGPASS invalid username-password pair or user is disabled.'));
    await vi.advanceTimersByTimeAsync((NOT_UP_BEATS - 1) * 100);
    expect(notUp).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(notUp).toHaveLength(1);
    expect(notUp[0]).toBeInstanceOf(BusError);
    expect(notUp[0]?.message).toBe(
      `the bus has not come up within ${NOT_UP_BEATS} heartbeat intervals (${NOT_UP_BEATS * 100} ms): Redis subscriber: WRONGPASS invalid username-password pair or user is disabled.`,
    );
    expect((notUp[0]?.cause as Error | undefined)?.message).toMatch(/WRONGPASS/);
    expect(bus.failure?.message).toMatch(/WRONGPASS/);
    // Once only.
    await vi.advanceTimersByTimeAsync(10 * 100);
    expect(notUp).toHaveLength(1);
    await bus.close();
  });

  it('without any word from the transport, it says that', async () => {
    const { bus, notUp } = setup();
    await vi.advanceTimersByTimeAsync(NOT_UP_BEATS * 100);
    expect(notUp.map((e) => e.message)).toEqual([
      `the bus has not come up within ${NOT_UP_BEATS} heartbeat intervals (${NOT_UP_BEATS * 100} ms): the transport has not reported the subscription in place`,
    ]);
    await bus.close();
  });

  it('a bus that came up in time never says it, even when it goes down later', async () => {
    const { bus, transport, notUp } = setup();
    transport.up = true;
    transport.handlers?.up();
    await vi.advanceTimersByTimeAsync(0);
    expect(bus.status).toBe('up');
    expect(bus.failure).toBeUndefined();
    transport.handlers?.down(new BusError('the subscriber connection to Redis closed'));
    await vi.advanceTimersByTimeAsync(10 * 100);
    expect(notUp).toEqual([]);
    expect(bus.failure?.message).toBe('the subscriber connection to Redis closed');
    await bus.close();
  });
});
