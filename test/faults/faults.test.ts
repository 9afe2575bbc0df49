import { describe, expect, it } from 'vitest';
import { hasRedisServer } from '../../scripts/redis-server.mjs';
import { tcpAnswers } from '../helpers/tcp.js';
import { RESILIENCE } from './config.js';
import { runFaults, type StoreKind } from './harness.js';
import { formatReport } from './report.js';

// The fault-injection suite of issue 10: three real processes under a schedule of bus and store faults,
// every call recorded and judged by ./checker.ts, its summary table printed whether it passes or not.
// Loads the built package: `npm run build` first (npm test does). Runs in `npm test`; alone:
// `npm run test:faults`. About 70 s of wall time, most of it the schedule.

if (!hasRedisServer()) throw new Error('the fault suite needs redis-server on PATH');
const postgres = await tcpAnswers(5432);
if (!postgres) console.warn('[faults] PostgreSQL does not answer on 127.0.0.1:5432: the @keyv/postgres variant is skipped.');

async function suite(kind: StoreKind) {
  const run = await runFaults(kind);
  console.log(`${formatReport(run)}\n(resilience options ${RESILIENCE.enabled ? 'on' : 'off'}: test/faults/config.ts)`);
  expect(run.result.violations.map((v) => `${v.kind}: ${v.message}`).slice(0, 20)).toEqual([]);
}

describe('under faults (issue 10)', () => {
  it('the suite catches a broken cache: a process that never hears invalidations serves stale values', async () => {
    const run = await runFaults('redis', { deafProcess: true, steps: [], leadMs: 2_000, warmupMs: 500, settleMs: 500 });
    const kinds = new Set(run.result.violations.map((v) => v.kind));
    // Its writes go unheard too, so every process serves stale values; nothing else is wrong.
    expect([...kinds].sort()).toEqual(['divergence', 'stale-read']);
    const deaf = run.processes.at(-1)?.p;
    expect(run.result.violations.some((v) => v.kind === 'stale-read' && v.p === deaf)).toBe(true);
  }, 30_000);

  // A run takes about 35 s (the schedule is 23 s); the margin is for a loaded machine, since a run that
  // times out prints no table.
  it('with the store on its own Redis (@keyv/redis)', () => suite('redis'), 60_000);
  it.skipIf(!postgres)('with the store on PostgreSQL (@keyv/postgres)', () => suite('postgres'), 60_000);
});
