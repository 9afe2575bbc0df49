import type { Clock } from '../../src/index.js';

/** A clock the test moves by hand: memory lifetimes, heartbeats and the breaker's cooldown then need no sleeping. */
export function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}
