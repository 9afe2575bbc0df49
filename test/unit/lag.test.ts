import { describe, expect, it } from 'vitest';
import { MAX_PLAUSIBLE_LAG } from '../../src/bus/lag.js';
import { busOnHub } from '../helpers/bus-on-hub.js';

describe('lag statistics ignore implausible lags', () => {
  it('one bogus timestamp (ts: 1) neither pins max nor poisons p99, and is counted', async () => {
    const { bus, invalidate } = await busOnHub();
    await invalidate('bogus', 1, 1);
    for (let seq = 1; seq <= 200; seq++) await invalidate('honest', seq);
    const lag = bus.lag();
    expect(bus.implausibleLags).toBe(1);
    expect(lag.count).toBe(200);
    expect(lag.max).toBeLessThan(1_000);
    expect(lag.p99).toBeLessThan(1_000);
    await bus.close();
  });

  it('a sender whose clock is badly behind or ahead is left out; one within the bound is measured', async () => {
    const { bus, invalidate } = await busOnHub();
    // Sent "an hour ago" and "in a minute": clocks, not the bus.
    await invalidate('behind', 1, Date.now() - 3_600_000);
    await invalidate('ahead', 1, Date.now() + 60_000);
    expect(bus.implausibleLags).toBe(2);
    expect(bus.lag()).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
    // Just within the bound: a receiver that stalled, say.
    await invalidate('slow', 1, Date.now() - (MAX_PLAUSIBLE_LAG - 5_000));
    expect(bus.implausibleLags).toBe(2);
    expect(bus.lag().count).toBe(1);
    expect(bus.lag().max).toBeGreaterThanOrEqual(MAX_PLAUSIBLE_LAG - 5_000);
    expect(bus.lag().max).toBeLessThanOrEqual(MAX_PLAUSIBLE_LAG);
    await bus.close();
  });

  it('a message without a timestamp is neither measured nor counted as implausible', async () => {
    const { bus, invalidate } = await busOnHub();
    await invalidate('old-sender', 1, 0);
    expect(bus.implausibleLags).toBe(0);
    expect(bus.lag().count).toBe(0);
    await bus.close();
  });
});
