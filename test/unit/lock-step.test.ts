// The lock step's decisions, with a lock double implementing the real KeyLock interface (a lock server
// that is down cannot be had on demand from a real Redis in the middle of a call).
import { describe, expect, it } from 'vitest';
import type { KeyLock } from '../../src/read/lock.js';
import { RedisLockStep } from '../../src/read/lock-step.js';

class MemoryLock implements KeyLock {
  readonly held = new Map<string, string>();
  down = false;
  released = 0;
  async acquire(name: string): Promise<string | undefined> {
    if (this.down) throw new Error('lock server down');
    if (this.held.has(name)) return undefined;
    const token = `t${this.held.size}-${Math.random()}`;
    this.held.set(name, token);
    return token;
  }
  async release(name: string, token: string): Promise<void> {
    if (this.held.get(name) === token) this.held.delete(name);
    this.released++;
  }
  async close(): Promise<void> {}
}

function step(lock: MemoryLock, reread: () => Promise<string | undefined> = async () => undefined) {
  const counts = { acquired: 0, waited: 0, tookOver: 0 };
  const errors: Error[] = [];
  const never = () => ({ promise: new Promise<void>(() => {}), cancel() {} });
  const s = new RedisLockStep<string>({
    lock,
    namespace: 'ns',
    reread: () => reread(),
    watch: never,
    counts,
    report: (e) => errors.push(e),
  });
  return { s, counts, errors };
}

describe('the lock step', () => {
  it('the holder loads and gives the lock up, even when the load fails', async () => {
    const lock = new MemoryLock();
    const { s, counts } = step(lock);
    expect(await s.around('k', 'k', { ttl: 1_000, wait: 100 }, async () => 'v')).toBe('v');
    await expect(s.around('k', 'k', { ttl: 1_000, wait: 100 }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(counts.acquired).toBe(2);
    expect(lock.held.size).toBe(0);
    expect(lock.released).toBe(2);
  });

  it('a waiter whose wait runs out loads itself, and says so', async () => {
    const lock = new MemoryLock();
    lock.held.set('synced-cache:lock:ns:k', 'someone else');
    const { s, counts } = step(lock);
    const started = performance.now();
    expect(await s.around('k', 'k', { ttl: 1_000, wait: 60 }, async () => 'mine')).toBe('mine');
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(counts).toEqual({ acquired: 0, waited: 0, tookOver: 1 });
  });

  it("a waiter returns the holder's stored value (found by polling when no invalidation comes)", async () => {
    const lock = new MemoryLock();
    lock.held.set('synced-cache:lock:ns:k', 'someone else');
    let stored: string | undefined;
    setTimeout(() => {
      stored = 'theirs';
    }, 40);
    const { s, counts } = step(lock, async () => stored);
    expect(await s.around('k', 'k', { ttl: 1_000, wait: 5_000 }, async () => 'mine')).toBe('theirs');
    expect(counts).toEqual({ acquired: 0, waited: 1, tookOver: 0 });
  });

  it('with the lock server down, the load runs without the lock, and the failure is reported', async () => {
    const lock = new MemoryLock();
    lock.down = true;
    const { s, errors } = step(lock);
    expect(await s.around('k', 'k', { ttl: 1_000, wait: 100 }, async () => 'v')).toBe('v');
    expect(errors.map((e) => e.message)).toEqual(['lock server down']);
  });
});
