import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_SENDERS } from '../../src/bus/bus.js';
import { busOnHub as setup } from '../helpers/bus-on-hub.js';

describe('per-sender state is bounded by count and age', () => {
  beforeEach(() => {
    // Beats come only when a test moves the timers, so the clock and the beats are the test's alone.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it(`forged sender ids cannot grow it: at most ${MAX_SENDERS} are remembered, and the others are counted`, async () => {
    const { bus, heartbeat } = await setup();
    const forged = MAX_SENDERS + 15_000;
    for (let i = 0; i < forged; i++) await heartbeat(`forged-${i}`, i);
    expect(bus.sendersTracked).toBe(MAX_SENDERS);
    expect(bus.sendersEvicted).toBe(15_000);
    expect(bus.sendersExpired).toBe(0);
    await bus.close();
  });

  it('a live sender pushed out by others is not taken for a new one: a message it lost meanwhile is still a gap', async () => {
    const { bus, gaps, invalidate, heartbeat } = await setup({ maxSenders: 100 });
    await invalidate('live', 1);
    await invalidate('live', 2);
    for (let i = 0; i < 100; i++) await heartbeat(`forged-${i}`, 1);
    // 'live' and the first 49 forged ids, heard before the last 50.
    expect(bus.sendersEvicted).toBe(50);
    gaps.length = 0;
    // Number 3 was lost; 4 is the next one heard. Taken as a fresh baseline it would hide the loss.
    await invalidate('live', 4);
    expect(gaps).toEqual(['live']);
    await bus.close();
  });

  it('30 heartbeat intervals after the last eviction, a new sender is a plain baseline again', async () => {
    const { bus, gaps, heartbeat, pass } = await setup({ maxSenders: 10 });
    for (let i = 0; i < 11; i++) await heartbeat(`s-${i}`, 5);
    expect(bus.sendersEvicted).toBe(5);
    expect(gaps).toEqual(['s-10']);
    pass(30 * 100 - 1);
    await heartbeat('s-5', 5);
    pass(2);
    vi.advanceTimersByTime(100);
    // Those silent for 30 intervals are forgotten by age, and nobody was evicted within that time: this
    // is a new sender like any other.
    await heartbeat('after', 5);
    expect(gaps).toEqual(['s-10']);
    expect(bus.sendersEvicted).toBe(5);
    expect(bus.sendersExpired).toBe(4);
    expect(bus.sendersTracked).toBe(3);
    await bus.close();
  });

  it('a sender is forgotten after 30 (to 60) heartbeat intervals of silence, never sooner, and counted apart from evictions', async () => {
    const { bus, heartbeat, pass } = await setup();
    const beatAt = (ms: number) => {
      pass(ms);
      vi.advanceTimersByTime(100);
    };
    for (let i = 0; i < 50; i++) await heartbeat(`quiet-${i}`, 1);
    beatAt(3_000);
    expect(bus.sendersTracked).toBe(50);
    await heartbeat('recent', 1);
    beatAt(3_000);
    expect(bus.sendersExpired).toBe(50);
    expect(bus.sendersTracked).toBe(1);
    beatAt(3_000);
    expect(bus.sendersExpired).toBe(51);
    expect(bus.sendersTracked).toBe(0);
    expect(bus.sendersEvicted).toBe(0);
    await bus.close();
  });
});
