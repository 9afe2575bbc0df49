// Promises of issue 10 that the fault suite (test/faults/) found broken, each reduced to one
// deterministic case: held store calls and faked timers, no sleeps.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache } from '../helpers/factory.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('issue 10, feature 6: the store is down, the source is up', () => {
  // Fault suite, store-freeze: getOrSet calls whose store read was in flight when the store froze took
  // 2 x storeTimeout + the loader's time (2013-2036 ms against a bound of 1500 ms): after the read timed
  // out and the loader answered, the call waited for the write of the loaded value to time out as well.
  it("answers from the loader within storeTimeout plus the loader's time when the store read times out", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = new ControlledStore();
    const cache = makeCache<string>({ store, storeTimeout: 300, circuitBreaker: false });
    // A frozen store: neither the read nor the write of the loaded value ever answers.
    store.hold('get');
    store.hold('set');
    cache.on('error', () => {});
    let answer: string | undefined;
    const call = cache
      .getOrSet('k', () => 'from the source')
      .then((value) => {
        answer = value;
      });
    // The read times out at 300 ms; the loader answers at once. The bound is storeTimeout + the
    // loader's time (0 here) + the fault suite's 100 ms: 400 ms. The write's own timeout is at 600 ms.
    await vi.advanceTimersByTimeAsync(400);
    expect(answer).toBe('from the source');
    // The write is still attempted (issue 10: "Writing that value to the store is attempted").
    expect(store.held.map((c) => c.op)).toEqual(['get', 'set']);
    await vi.advanceTimersByTimeAsync(300);
    await call;
  });
});
