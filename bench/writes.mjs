// Scenario 3: writes. `set` of ~200-byte objects over 10,000 keys, sequential and with 64 in
// flight, one process, the bus connected (so every system pays for its own subscriber too).
// Baseline in the same run: keyv.set then PUBLISH of the key, written by hand (store first,
// then publish, like a synced cache must), with a subscriber on the channel dropping its own
// messages; and keyv.set alone for reference.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { seqAndPar } from './lib/load.mjs';
import { inChild } from './lib/procs.mjs';
import { runRotated, seqParColumns, seqParFields, systemRow, windowOptions, withOurs } from './lib/scenario.mjs';
import { createSystem } from './lib/systems.mjs';
import { keyOf, makeValue } from './lib/values.mjs';

const SELF = fileURLToPath(import.meta.url);
const KEYS = 10_000;

export const name = 'writes';
export const title = 'Writes';

const BASELINES = {
  'keyv-set-publish': 'keyv.set + PUBLISH by hand = floor',
  'keyv-set': 'keyv.set alone (no bus)',
};

export function systemsFor(ctx) {
  return withOurs(ctx, ['keyv-set-publish', 'keyv-set'], ['layered-loader', 'bentocache', 'cacheable']);
}

async function build(id, redisUrl, namespace) {
  if (id === 'keyv-set' || id === 'keyv-set-publish') {
    const keyv = new Keyv(new KeyvRedis(redisUrl), { namespace });
    await keyv.get('__bench_connect__');
    if (id === 'keyv-set') return { set: (k, v) => keyv.set(k, v), close: () => keyv.disconnect() };
    const pub = new Redis(redisUrl);
    const sub = new Redis(redisUrl);
    const channel = `${namespace}:invalidate`;
    const me = randomUUID();
    // like a synced cache's subscriber: it receives its own messages and drops them by origin
    sub.on('message', (_ch, msg) => msg.startsWith(me));
    await sub.subscribe(channel);
    return {
      async set(k, v) {
        await keyv.set(k, v);
        await pub.publish(channel, `${me}|${k}`);
      },
      async close() {
        sub.disconnect();
        pub.disconnect();
        await keyv.disconnect();
      },
    };
  }
  const sys = await createSystem(id, { redisUrl, namespace });
  await sys.ready();
  return { set: sys.set, close: () => sys.close(), get: sys.get };
}

/** Child side: one system, sequential then 64 in flight. */
export async function measure(id, { redisUrl, namespace, warmupMs, durationMs }) {
  const s = await build(id, redisUrl, namespace);
  const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i));
  const values = Array.from({ length: KEYS }, (_, i) => makeValue(i));
  const op = (n) => s.set(keys[n % KEYS], values[n % KEYS]);
  const { seq, par } = await seqAndPar(op, { warmupMs, durationMs });
  if (s.get) {
    const v = await s.get(keys[123]);
    if (v?.id !== 123) throw new Error(`${id}: written key returned ${JSON.stringify(v)}`);
  }
  await s.close();
  return { seq, par };
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const perRun = await runRotated(ctx, ids, (id, run) => inChild(SELF, 'measure', [id, windowOptions(ctx, `writes-${id}-${run}`)]));
  const rows = ids.map((id) => ({ ...systemRow(id, BASELINES), ...seqParFields(perRun, id, 'keyv-set-publish') }));
  return {
    name,
    title,
    description:
      `set() of ~200 B objects over ${KEYS.toLocaleString('en-US')} keys, ops/s over a timed window after a warmup, ` +
      'sequential and with 64 sets in flight. Ratio: to keyv.set + PUBLISH by hand in the same run.',
    columns: [{ key: 'system', label: 'system' }, ...seqParColumns('x keyv.set+PUBLISH')],
    rows,
  };
}
