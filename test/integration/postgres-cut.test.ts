// @keyv/postgres never listens to its pg pool's 'error' events, and pg emits one when an idle pooled
// connection is cut: unheard, it ends the process. For a store the cache built from a postgres:// URL,
// the cache hears them and reports them on 'error'.
import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { tcpAnswers } from '../helpers/tcp.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const postgres = await tcpAnswers(5432);
if (!postgres) console.warn('[postgres-cut.test] PostgreSQL does not answer on 127.0.0.1:5432: skipped.');

describe.skipIf(!postgres)('a store built from a postgres:// URL (skipped when no PostgreSQL answers on 127.0.0.1:5432)', () => {
  let proxy: TcpProxy | undefined;
  let child: Fixture | undefined;
  afterEach(async () => {
    await child?.kill();
    await proxy?.close();
  });

  it('survives its PostgreSQL connections being cut, and reports the lost connection on error', async () => {
    proxy = await startTcpProxy(5432);
    const events: Record<string, unknown>[] = [];
    child = await forkFixture('postgres-cut.mjs', { STORE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/test` }, 10_000, {
      onEvent: (message) => events.push(message),
    });
    expect(await child.call('touch')).toBe(1);
    // The pool now holds an idle connection through the proxy; cut it.
    proxy.cut();
    await waitFor(async () => (await child?.call<string[]>('errors'))?.length !== 0, 'the lost connection to be reported');
    const errors = await child.call<string[]>('errors');
    expect(errors[0]).toMatch(/^StoreError: store pool failed: the PostgreSQL pool lost a connection/);
    expect(events.filter((e) => e.event === 'crashed')).toEqual([]);
    await child.call('close');
  });
});
