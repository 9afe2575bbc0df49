import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BusError, type BusTransport, type Clock, SyncedCache, type TransportHandlers } from '../../src/index.js';

/**
 * A transport that echoes like Redis, but delivers only when the test says so: with fake timers and a
 * manual clock, every heartbeat decision becomes a step the test takes.
 */
class HeldEchoTransport implements BusTransport {
  readonly echoesOwnMessages = true;
  handlers: TransportHandlers | undefined;
  queued: string[] = [];
  reconnects: number[] = [];
  #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }
  open(_channel: string, handlers: TransportHandlers) {
    this.handlers = handlers;
    return {
      publish: async (payload: string) => {
        this.queued.push(payload);
      },
      close: async () => {},
      reconnect: () => {
        this.reconnects.push(this.#now());
      },
    };
  }
  /** Delivers the oldest `count` queued messages (all by default). */
  deliver(count = Number.POSITIVE_INFINITY): void {
    const batch = this.queued.splice(0, count);
    for (const payload of batch) this.handlers?.message(payload);
  }
}

function setup() {
  let now = 0;
  const clock: Clock & { advance(ms: number): void } = {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
  const transport = new HeldEchoTransport(clock.now);
  const cache = new SyncedCache({ namespace: 'hb', transport, clock, heartbeat: { interval: 100, timeout: 200 } });
  /** Moves the clock and the timers together, as time normally passes. */
  const pass = (ms: number) => {
    clock.advance(ms);
    vi.advanceTimersByTime(ms);
  };
  return { cache, transport, clock, pass };
}

describe('heartbeat decisions', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the bus is up only after its own heartbeat has made the round trip', async () => {
    const { cache, transport } = setup();
    transport.handlers?.up();
    expect(cache.stats().bus).toBe('down');
    expect(transport.queued).toHaveLength(1);
    transport.deliver();
    expect(cache.stats().bus).toBe('up');
    await cache.close();
  });

  it('an unanswered heartbeat puts the bus down once older than the timeout, and an answer after that does not bring it up', async () => {
    const { cache, transport, pass } = setup();
    transport.handlers?.up();
    transport.deliver();
    const reasons: unknown[] = [];
    cache.on('bus:down', ({ reason }) => reasons.push(reason?.message));
    pass(100);
    expect(transport.queued).toHaveLength(1);
    pass(200);
    expect(cache.stats().bus).toBe('up');
    pass(100);
    expect(cache.stats().bus).toBe('down');
    expect(reasons).toEqual(['heartbeat not answered within 200 ms']);
    // The late answer to the probe sent before the bus went down proves nothing about now.
    expect(transport.queued).toHaveLength(2);
    transport.deliver(1);
    expect(cache.stats().bus).toBe('down');
    transport.deliver();
    expect(cache.stats().bus).toBe('up');
    expect(cache.stats().flushes.reconnect).toBe(1);
    await cache.close();
  });

  it('an event-loop stall longer than the timeout is not taken for a dead bus', async () => {
    const { cache, transport, clock, pass } = setup();
    transport.handlers?.up();
    transport.deliver();
    pass(100);
    expect(transport.queued).toHaveLength(1);
    // The loop was blocked for 600 ms: the answer waits unread while the timer fires late.
    clock.advance(600);
    vi.advanceTimersByTime(100);
    expect(cache.stats().bus).toBe('up');
    transport.deliver();
    pass(100);
    pass(100);
    expect(cache.stats().bus).toBe('up');
    await cache.close();
  });

  it('the transport reporting the subscription lost puts the bus down at once', async () => {
    const { cache, transport } = setup();
    transport.handlers?.up();
    transport.deliver();
    transport.handlers?.down(new Error('socket closed'));
    expect(cache.stats().bus).toBe('down');
    await cache.close();
  });

  it('a first connection that fails before ever coming up is not counted as a reconnect', async () => {
    const { cache, transport } = setup();
    transport.handlers?.down(new Error('connection refused'));
    transport.handlers?.up();
    transport.deliver();
    expect(cache.stats().bus).toBe('up');
    expect(cache.stats().flushes.reconnect).toBe(0);
    await cache.close();
  });

  it('an unanswered heartbeat has the transport reconnect at once, then with backoff while the bus stays down', async () => {
    const { cache, transport, pass } = setup();
    transport.handlers?.up();
    transport.deliver();
    // Probes at 100, 400, 700, ... (each unanswered after the 200 ms timeout, judged at the next beat).
    const at = (ms: number) => {
      for (let t = 0; t < ms; t += 100) pass(100);
    };
    at(400);
    expect(cache.stats().bus).toBe('down');
    expect(transport.reconnects).toEqual([400]);
    // The next ones wait timeout x 2^n since the n-th: 400 ms, then 800 ms, ...
    at(300);
    expect(transport.reconnects).toEqual([400]);
    at(300);
    expect(transport.reconnects).toEqual([400, 1_000]);
    at(600);
    expect(transport.reconnects).toEqual([400, 1_000]);
    at(300);
    expect(transport.reconnects).toEqual([400, 1_000, 1_900]);
    // Once proven up, the next unanswered heartbeat reconnects at once again.
    transport.handlers?.up();
    transport.deliver();
    expect(cache.stats().bus).toBe('up');
    transport.queued.length = 0;
    at(400);
    expect(cache.stats().bus).toBe('down');
    expect(transport.reconnects).toEqual([400, 1_000, 1_900, 2_300]);
    await cache.close();
  });

  it('closing with invalidations still queued says so on the error event', async () => {
    const { cache, transport } = setup();
    transport.handlers?.up();
    transport.deliver();
    transport.handlers?.down(new Error('socket closed'));
    await cache.set('k', 1);
    expect(cache.stats().pendingInvalidations).toBe(1);
    const errors: Error[] = [];
    cache.on('error', (error) => errors.push(error));
    await cache.close();
    expect(errors.map((e) => e.message)).toEqual(['closed with 1 invalidation(s) not yet published: the bus was down']);
    expect(errors[0]).toBeInstanceOf(BusError);
  });
});
