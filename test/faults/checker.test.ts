import { describe, expect, it } from 'vitest';
import { type Bounds, type CheckInput, check, type ViolationKind } from './checker.js';
import type { Landing, OpRecord, Read } from './history.js';

// The checker judges the fault suite; these small hand-written histories make sure it flags what it
// must and accepts what it must. Times are ms from 0; Δ (the staleness bound) is 700 ms.

const bounds: Bounds = { hangMs: (op) => (op === 'getOrSet' ? 1_130 : 1_100), stalenessMs: 700, clockMs: 5, heapRatio: 1.2 };

type Extra = Partial<OpRecord>;
const set = (p: string, v: string, start: number, end: number | undefined, extra: Extra = {}): OpRecord => ({
  p,
  op: 'set',
  key: 'k',
  v,
  start,
  end,
  outcome: end === undefined ? 'pending' : 'ok',
  ...extra,
});
const del = (p: string, start: number, end: number | undefined, extra: Extra = {}): OpRecord => ({
  p,
  op: 'delete',
  key: 'k',
  v: null,
  start,
  end,
  outcome: end === undefined ? 'pending' : 'ok',
  ...extra,
});
const get = (p: string, v: Read, start: number, end: number, extra: Extra = {}): OpRecord => ({
  p,
  op: 'get',
  key: 'k',
  v,
  start,
  end,
  outcome: 'ok',
  ...extra,
});
const timedOut: Extra = {
  outcome: 'error',
  error: { name: 'StoreTimeoutError', code: 'ERR_SYNCED_CACHE_STORE_TIMEOUT', message: 'store set timed out' },
};

function run(ops: OpRecord[], final: Read, more: Partial<CheckInput> = {}) {
  return check({ ops, keys: ['k'], final: new Map([['k', final]]), finalAt: 100_000, bounds, origin: 0, ...more });
}
const kinds = (result: ReturnType<typeof check>): ViolationKind[] => result.violations.map((v) => v.kind);

describe('the fault-suite checker', () => {
  it('accepts a clean history: writes, reads of the latest value, a delete, a miss', () => {
    const result = run(
      [
        get('p1', null, 0, 2),
        set('p1', 'p1:1', 10, 20),
        get('p2', 'p1:1', 30, 31),
        set('p2', 'p2:1', 40, 50),
        get('p3', 'p2:1', 60, 61),
        del('p3', 70, 80),
        get('p1', null, 90, 91),
      ],
      null,
    );
    expect(result.violations).toEqual([]);
    expect(result.readsChecked).toBe(4);
    expect(result.outcomes.get('ok')).toBe(7);
  });

  it('flags a read that returns a value replaced more than Δ before it began, and accepts one within Δ', () => {
    const ops = [set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 30)];
    // Replaced at 30 (when p2's set finished): 30 + 700 = 730 is the last start at which p1:1 may be seen.
    expect(run([...ops, get('p3', 'p1:1', 720, 725)], 'p2:1').violations).toEqual([]);
    const stale = run([...ops, get('p3', 'p1:1', 800, 805)], 'p2:1');
    expect(kinds(stale)).toEqual(['stale-read']);
    expect(stale.violations[0]?.message).toBe(
      'p3 get(k) over +0.800s..+0.805s returned p1:1 (p1 set p1:1 (ok)), replaced 770 ms before the read began by p2 set p2:1 (ok) (done +0.030s; bound 700 ms)',
    );
    // A miss is a stale answer too once a write completed long before.
    expect(kinds(run([...ops, get('p3', null, 5_000, 5_001)], 'p2:1'))).toEqual(['stale-read']);
    // ...and a value deleted long before.
    expect(kinds(run([...ops, del('p1', 40, 50), get('p3', 'p2:1', 5_000, 5_001)], null))).toEqual(['stale-read']);
  });

  it('accepts either value of two overlapping writes, for ever, and either as the final value', () => {
    const ops = [set('p1', 'p1:1', 0, 100), set('p2', 'p2:1', 50, 150)];
    for (const final of ['p1:1', 'p2:1']) {
      expect(run([...ops, get('p3', 'p1:1', 9_000, 9_001), get('p3', 'p2:1', 9_002, 9_003)], final).violations).toEqual([]);
    }
  });

  it('never accepts a value before its write began', () => {
    expect(kinds(run([get('p2', 'p1:1', 0, 5), set('p1', 'p1:1', 10, 20)], 'p1:1'))).toEqual(['stale-read']);
  });

  it('accepts a read of a write that failed (it may have landed), and that value as the final one', () => {
    const ops = [set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 1_020, timedOut), get('p3', 'p2:1', 5_000, 5_001)];
    const result = run(ops, 'p2:1');
    expect(result.violations).toEqual([]);
    expect(result.outcomes.get('error:StoreTimeoutError:ERR_SYNCED_CACHE_STORE_TIMEOUT')).toBe(1);
    // The older value stays acceptable too: the failed write may never have landed.
    expect(run([...ops, get('p3', 'p1:1', 6_000, 6_001)], 'p1:1').violations).toEqual([]);
  });

  it('does not count a write refused before reaching the store (breaker open) as possibly landed', () => {
    const refused: Extra = {
      outcome: 'error',
      error: { name: 'StoreUnavailableError', code: 'ERR_SYNCED_CACHE_STORE_UNAVAILABLE', message: 'breaker open' },
    };
    expect(kinds(run([set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 21, refused), get('p3', 'p2:1', 30, 31)], 'p1:1'))).toEqual([
      'phantom',
    ]);
  });

  it('flags a write that resolved but is neither the final value nor overwritten by a later one', () => {
    const result = run([set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 30)], 'p1:1');
    expect(kinds(result)).toEqual(['lost-write']);
    expect(result.violations[0]?.message).toBe(
      'k: p2 set p2:1 (ok) over +0.020s..+0.030s is lost: the store ends with p1:1 (p1 set p1:1 (ok)), which landed by +0.010s',
    );
    // A delete is a write that can be lost too.
    expect(kinds(run([set('p1', 'p1:1', 0, 10), del('p2', 20, 30)], 'p1:1'))).toEqual(['lost-write']);
    // Not lost when a later failed write may have overwritten it.
    expect(run([set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 30), set('p3', 'p3:1', 40, 1_040, timedOut)], 'p3:1').violations).toEqual(
      [],
    );
  });

  it('flags a call slower than its bound, and one that never settled', () => {
    const result = run([set('p1', 'p1:1', 0, 1_500), get('p2', 'p1:1', 2_000, 2_001), set('p3', 'p3:1', 3_000, undefined)], 'p1:1');
    expect(kinds(result)).toEqual(['hang', 'hang']);
    expect(result.violations.map((v) => v.message)).toEqual([
      'p1 set(k) started at +0.000s took 1500 ms (bound 1100 ms), ok',
      'p3 set(k) started at +3.000s never settled (bound 1100 ms)',
    ]);
    expect(result.longest?.p).toBe('p3');
    // A pending write is in doubt: the final value may be its own.
    expect(kinds(run([set('p1', 'p1:1', 0, 10), set('p3', 'p3:1', 3_000, undefined)], 'p3:1'))).toEqual(['hang']);
  });

  it('accepts the value of a loader the library ran after its call settled (refresh ahead), without calling it a hang', () => {
    const load: OpRecord = { p: 'p1', op: 'load', key: 'k', v: null, wrote: 'p1:2', start: 50, end: 80, outcome: 'ok' };
    const result = run([set('p1', 'p1:1', 0, 10), load, get('p2', 'p1:2', 5_000, 5_001)], 'p1:2');
    expect(result.violations).toEqual([]);
    expect(result.outcomes.get('background load')).toBe(1);
  });

  it('flags a value that no call wrote', () => {
    expect(kinds(run([get('p1', 'p9:9', 0, 1)], null))).toEqual(['phantom']);
    expect(kinds(run([], 'p9:9'))).toEqual(['phantom']);
  });

  it('flags a process whose view differs from the store after the settle', () => {
    const views = new Map([
      ['p1', new Map<string, Read | { error: string }>([['k', 'p2:1']])],
      ['p2', new Map<string, Read | { error: string }>([['k', 'p1:1']])],
      ['p3', new Map<string, Read | { error: string }>([['k', { error: 'StoreError: down' }]])],
    ]);
    const result = run([set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 30)], 'p2:1', { views });
    expect(result.violations.map((v) => v.message)).toEqual([
      'p2 get(k) after the settle returns p1:1, the store holds p2:1',
      'p3 get(k) after the settle failed: StoreError: down',
    ]);
    // A key whose write never settled has no value to converge to (the hang is reported instead).
    const hung = run([set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, undefined)], 'p1:1', { views });
    expect(kinds(hung)).toEqual(['hang']);
    expect(hung.convergenceSkipped).toEqual(['k']);
  });

  describe('ttl and grace', () => {
    const ops = [set('p1', 'p1:1', 0, 10, { ttl: 1_000 })];

    it('accepts a miss once the ttl ran out, and flags a fresh answer long after it', () => {
      expect(run([...ops, get('p2', null, 1_200, 1_201)], null).violations).toEqual([]);
      const result = run([...ops, get('p2', 'p1:1', 1_200, 1_201)], null);
      expect(kinds(result)).toEqual(['stale-read']);
      expect(result.violations[0]?.message).toMatch(/whose ttl ran out at \+1\.010s$/);
    });

    it('counts a stale-by-grace answer by reason, and flags one whose value was deleted', () => {
      const graced = run([...ops, get('p2', 'p1:1', 5_000, 5_001, { outcome: 'stale', reason: 'store-timeout' })], null);
      expect(graced.violations).toEqual([]);
      expect(graced.stale.get('store-timeout')).toBe(1);
      const superseded = run(
        [...ops, del('p3', 20, 30), get('p2', 'p1:1', 5_000, 5_001, { outcome: 'stale', reason: 'store-error' })],
        null,
      );
      expect(kinds(superseded)).toEqual(['stale-superseded']);
    });

    it('does not call a write lost because it expired', () => {
      expect(run([set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 30, { ttl: 100 })], null).violations).toEqual([]);
    });
  });

  describe('with the store log (landing mode)', () => {
    const ops = [set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 1_020, timedOut)];

    it("accepts a read of a failed write that landed, and flags the old value once the landing's news is overdue", () => {
      const landings: Landing[] = [
        { key: 'k', v: 'p1:1', t: 5 },
        { key: 'k', v: 'p2:1', t: 3_000 },
      ];
      expect(run([...ops, get('p3', 'p2:1', 5_000, 5_001)], 'p2:1', { landings }).violations).toEqual([]);
      // Before the landing, the old value is the store's: fine until 3_000 + Δ.
      expect(run([...ops, get('p3', 'p1:1', 3_500, 3_501)], 'p2:1', { landings }).violations).toEqual([]);
      const result = run([...ops, get('p3', 'p1:1', 5_000, 5_001)], 'p2:1', { landings });
      expect(kinds(result)).toEqual(['stale-read']);
      expect(result.violations[0]?.message).toContain('which landed after its call had failed');
    });

    it('flags a read of a failed write that never landed, and an acknowledged write missing from the log', () => {
      const landings: Landing[] = [{ key: 'k', v: 'p1:1', t: 5 }];
      const phantom = run([...ops, get('p3', 'p2:1', 5_000, 5_001)], 'p1:1', { landings });
      expect(phantom.violations.map((v) => v.message)).toEqual([
        'p3 get(k) over +5.000s..+5.001s returned p2:1, written by p2 set p2:1 (error StoreTimeoutError) but never in the store',
      ]);
      const lost = run([set('p1', 'p1:1', 0, 10)], null, { landings: [] });
      expect(lost.violations.map((v) => v.message)).toEqual([
        'k: p1 set p1:1 (ok) over +0.000s..+0.010s resolved but never reached the store',
      ]);
    });

    it('accepts a getOrSet that joined a load of its own process (single flight), stored or not, and nothing else', () => {
      // p1's loader produced p1:7 over 100..130; the store was down, so it never landed.
      const load: OpRecord = { p: 'p1', op: 'getOrSet', key: 'k', v: 'p1:7', wrote: 'p1:7', start: 100, end: 130, outcome: 'ok' };
      const joined = (p: string, start: number, end: number): OpRecord => ({
        p,
        op: 'getOrSet',
        key: 'k',
        v: 'p1:7',
        start,
        end,
        outcome: 'ok',
      });
      const landings: Landing[] = [{ key: 'k', v: 'p1:1', t: 5 }];
      const shared = run([set('p1', 'p1:1', 0, 10), load, joined('p1', 110, 131)], 'p1:1', { landings, loaderWritesInDoubt: true });
      expect(shared.violations).toEqual([]);
      expect(shared.sharedLoads).toBe(1);
      // Another process cannot have joined p1's load; nor can p1 after the load was over.
      for (const late of [joined('p2', 110, 131), joined('p1', 200, 201)]) {
        const result = run([set('p1', 'p1:1', 0, 10), load, late], 'p1:1', { landings, loaderWritesInDoubt: true });
        expect(kinds(result)).toEqual(['phantom']);
      }
    });

    it('flags a write refused as not reached (breaker open) that landed all the same', () => {
      const refused: Extra = {
        outcome: 'error',
        error: { name: 'StoreUnavailableError', code: 'ERR_SYNCED_CACHE_STORE_UNAVAILABLE', message: 'not attempted' },
      };
      const ops = [set('p1', 'p1:1', 0, 10), set('p2', 'p2:1', 20, 21, refused)];
      expect(run(ops, 'p1:1', { landings: [{ key: 'k', v: 'p1:1', t: 5 }] }).violations).toEqual([]);
      const landed = run(ops, 'p2:1', {
        landings: [
          { key: 'k', v: 'p1:1', t: 5 },
          { key: 'k', v: 'p2:1', t: 40 },
        ],
      });
      expect(landed.violations.map((v) => v.message)).toEqual([
        'k: p2 set p2:1 (error StoreUnavailableError) was refused with ERR_SYNCED_CACHE_STORE_UNAVAILABLE (the store not reached) but landed at +0.040s',
      ]);
    });

    it('reports a log that disagrees with the store as a fault of the harness', () => {
      expect(
        kinds(
          run([set('p1', 'p1:1', 0, 10)], 'p1:1', {
            landings: [
              { key: 'k', v: 'p1:1', t: 5 },
              { key: 'k', v: null, t: 50 },
            ],
          }),
        ),
      ).toEqual(['checker']);
    });
  });

  it('flags crashes, unhandled rejections, heap growth and a bus still down', () => {
    const result = run([], null, {
      processes: [
        { p: 'p1', exited: 'code 1', fatal: [] },
        {
          p: 'p2',
          fatal: [{ kind: 'unhandled-rejection', message: 'Error: boom', t: 10 }],
          heapBefore: 10e6,
          heapAfter: 11e6,
          busAtEnd: 'up',
        },
        {
          p: 'p3',
          fatal: [{ kind: 'uncaught-exception', message: 'Error: bang', t: 20 }],
          heapBefore: 10e6,
          heapAfter: 13e6,
          busAtEnd: 'down',
        },
      ],
    });
    expect(kinds(result).sort()).toEqual(['crash', 'crash', 'heap', 'recovery', 'unhandled-rejection']);
  });
});
