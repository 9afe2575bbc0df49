// The tables of docs/observability.md (and the README's events) against the code, so they cannot drift:
// the diagnostics channels and the fields of the messages really published on them, the metrics and
// label values a registry really exports, and the events SyncedCacheEvents declares.
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BroadcastChannelTransport, DIAGNOSTICS_CHANNELS, type SyncedCacheEvents } from '../../src/index.js';
import { registerMetrics } from '../../src/integrations/prometheus.js';
import { manualClock } from '../helpers/clock.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { ROOT } from '../helpers/markdown.js';
import { waitFor } from '../helpers/wait.js';

// Every event of SyncedCacheEvents, checked both ways by tsc: a missing or unknown name does not compile.
const EVENTS: Record<keyof SyncedCacheEvents, true> = {
  hit: true,
  miss: true,
  set: true,
  delete: true,
  clear: true,
  invalidate: true,
  error: true,
  'bus:up': true,
  'bus:down': true,
  breaker: true,
  stale: true,
  expire: true,
  push: true,
  pop: true,
};

function read(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** The lines of `text` from the heading `heading` to the next heading of the same or a higher level. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start === -1) throw new Error(`no heading ${JSON.stringify(heading)}`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex((line, i) => i > start && /^#+ /.test(line) && line.indexOf(' ') <= level);
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** The cells of the markdown table rows among `lines` (an escaped `\|` stays inside its cell), header and rule left out. */
function rows(lines: readonly string[]): string[][] {
  return lines
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    )
    .slice(1);
}

/** The backticked names of a cell (`` `set`, `delete` `` -> set, delete). */
function names(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

/** The fields of a documented message `{ a, b: 'x' \| 'y', c? }`: name -> optional. */
function fields(cell: string): Map<string, boolean> {
  const body = /\{([^}]*)\}/.exec(cell)?.[1];
  if (body === undefined) throw new Error(`no { ... } in ${cell}`);
  return new Map(
    body.split(',').map((part) => {
      const m = /^\s*(\w+)(\?)?/.exec(part);
      if (m === null) throw new Error(`cannot read a field in ${JSON.stringify(part)} of ${cell}`);
      return [m[1] as string, m[2] === '?'];
    }),
  );
}

const OBSERVABILITY = 'docs/observability.md';

describe('docs/observability.md against the code', () => {
  it('the diagnostics_channel table names the channels of DIAGNOSTICS_CHANNELS and of its JSDoc table, each once', () => {
    const documented = rows(section(read(OBSERVABILITY), '## diagnostics_channel')).map(([channel = '']) => names(channel)[0]);
    const jsdoc = read('src/observe/diagnostics.ts')
      .split('\n')
      .filter((line) => line.startsWith(' * | `synced-cache:'))
      .map((line) => names(line)[0]);
    const exported = Object.values(DIAGNOSTICS_CHANNELS);
    expect(documented).toEqual([...new Set(documented)]);
    expect([...documented].sort()).toEqual([...exported].sort());
    expect([...jsdoc].sort()).toEqual([...exported].sort());
  });

  it('each channel publishes the fields its row documents: every field it sends is listed, every required one is sent', async () => {
    const table = new Map(
      rows(section(read(OBSERVABILITY), '## diagnostics_channel')).map(([channel = '', message = '']) => [
        names(channel)[0],
        fields(message),
      ]),
    );
    const seen = new Map<string, Record<string, unknown>[]>();
    for (const channel of Object.values(DIAGNOSTICS_CHANNELS)) {
      const messages: Record<string, unknown>[] = [];
      seen.set(channel, messages);
      const listener = (message: unknown) => messages.push(message as Record<string, unknown>);
      diagnostics.subscribe(channel, listener);
      onTestFinished(() => {
        diagnostics.unsubscribe(channel, listener);
      });
    }
    // Two caches on one bus and one store: writes, publishes, invalidations, a flush, bus changes; then a
    // failing store read that answers stale and opens a one-failure breaker.
    const namespace = uniqueNamespace('docs');
    const transport = new BroadcastChannelTransport();
    const store = new ControlledStore();
    const clock = manualClock();
    const options = { namespace, store, transport, clock, grace: 60_000, circuitBreaker: { threshold: 1, cooldown: 60_000 } };
    const a = makeCache<string>(options);
    const b = makeCache<string>(options);
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await a.set('k', 'v', { ttl: 20 });
    await a.clear();
    await waitFor(() => b.stats().flushes.clear === 1, 'the clear at B');
    const until = Date.now() + 20;
    await a.set('k', 'v', { ttl: 20 });
    while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
    clock.advance(21);
    store.fail('get');
    expect(await a.get('k')).toBe('v');
    expect(a.stats().breaker.state).toBe('open');

    for (const [channel, messages] of seen) {
      const documented = table.get(channel);
      expect(documented, channel).toBeDefined();
      expect(messages.length, `messages on ${channel}`).toBeGreaterThan(0);
      for (const message of messages) {
        const sent = Object.keys(message);
        expect(
          sent.filter((field) => !documented?.has(field)),
          `fields of ${channel} not documented`,
        ).toEqual([]);
        const required = [...(documented ?? [])].filter(([, optional]) => !optional).map(([field]) => field);
        expect(
          required.filter((field) => !sent.includes(field)),
          `documented fields of ${channel} not sent`,
        ).toEqual([]);
      }
    }
  });

  it('the events tables, of docs/observability.md and of the README, list every event of SyncedCacheEvents, each once', () => {
    const all = Object.keys(EVENTS).sort();
    const docs = rows(section(read(OBSERVABILITY), '## Events')).flatMap(([event = '']) => names(event));
    expect(docs).toEqual([...new Set(docs)]);
    expect([...docs].sort()).toEqual(all);
    // The README's monitoring tables: the events, then the bus states (quoted, so not event names).
    const readme = rows(section(read('README.md'), '### Monitoring'))
      .flatMap(([event = '']) => names(event))
      .filter((name) => /^[a-z:]+$/.test(name));
    expect(readme).toEqual([...new Set(readme)]);
    expect([...readme].sort()).toEqual(all);
  });

  it('the metrics table lists every metric registerMetrics exports, with the label values it exports', async () => {
    const registry = new Registry();
    const cache = makeCache({ namespace: uniqueNamespace('docs-metrics') });
    registerMetrics(cache, { registry });
    const exported = new Map<string, { type: string; labels: string[] }>();
    for (const metric of await registry.getMetricsAsJSON()) {
      const labels = metric.values.flatMap((v) =>
        Object.entries(v.labels)
          .filter(([name]) => name !== 'namespace')
          .map(([name, value]) => `${name}=${value}`),
      );
      exported.set(metric.name, { type: String(metric.type), labels: [...new Set(labels)].sort() });
    }
    const documented = new Map(
      rows(section(read(OBSERVABILITY), '## Prometheus metrics')).map(([name = '', type = '', labels = '']) => {
        const [label, ...values] = names(labels);
        return [names(name)[0], { type, labels: values.map((value) => `${label}=${value}`).sort() }];
      }),
    );
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(exported));
  });
});
