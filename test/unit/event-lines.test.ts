// formatEvent (the one line per event of logEvents and `watch --events`) and logEvents itself.
import { describe, expect, it } from 'vitest';
import { showToken } from '../../src/cli/printable.js';
import { BroadcastChannelTransport, BusError, formatEvent, logEvents } from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

const AT = Date.UTC(2025, 5, 1, 12, 0, 0, 123);
const TIME = '2025-06-01T12:00:00.123Z';
const ID = '6f0c2d4e-1111-4222-8333-944455556666';

/** Keys a writer, or anyone who can publish on the events channel, might choose. */
const NASTY = [
  'user:1',
  'with space',
  'line\nbreak',
  'cr\rlf',
  '\u001b[2J\u001b[Hclear screen',
  'csi\u009b31m',
  'bidi\u202eevil',
  'zero\u200bwidth',
  'sep\u2028line',
  'lone\ud800surrogate',
  'tag\u{e0041}',
  '"quoted',
  'caf\u00e9',
  '',
  ' lead',
  'del\u007f',
  'a=b',
];

describe('formatEvent', () => {
  it('one line per event: time, event, key, its other fields, instance', () => {
    const stamp = { at: AT, instance: ID };
    expect(formatEvent('set', { key: 'user:1', ...stamp })).toBe(`${TIME} set key=user:1 instance=${ID}`);
    expect(formatEvent('hit', { key: 'user:1', tier: 'memory', ...stamp })).toBe(`${TIME} hit key=user:1 tier=memory instance=${ID}`);
    expect(formatEvent('clear', stamp)).toBe(`${TIME} clear instance=${ID}`);
    expect(formatEvent('invalidate', { keys: ['a', 'b c'], origin: 'other', ...stamp })).toBe(
      `${TIME} invalidate keys=["a","b c"] origin=other instance=${ID}`,
    );
    expect(formatEvent('invalidate', { keys: '*', origin: 'other', ...stamp })).toBe(
      `${TIME} invalidate keys=* origin=other instance=${ID}`,
    );
    expect(formatEvent('bus:down', { reason: new BusError('heartbeat not answered within 1000 ms'), ...stamp })).toBe(
      `${TIME} bus:down reason="BusError: heartbeat not answered within 1000 ms" instance=${ID}`,
    );
    expect(formatEvent('bus:down', { reason: undefined, ...stamp })).toBe(`${TIME} bus:down instance=${ID}`);
    expect(formatEvent('stale', { key: 'k', reason: 'store-timeout', ...stamp })).toBe(
      `${TIME} stale key=k reason=store-timeout instance=${ID}`,
    );
    expect(formatEvent('push', { key: '0001', at: Number.NaN })).toBe('- push key=0001');
  });

  it('shows a key as it is when plain, else as a JSON string that gives it back; never a raw control, bidi or separator', () => {
    for (const key of NASTY) {
      const line = formatEvent('set', { key, at: AT, instance: ID });
      const shown = line.slice(`${TIME} set key=`.length, -` instance=${ID}`.length);
      expect(line.split(/\r\n|\r|\n|\u2028|\u2029/)).toHaveLength(1);
      expect(line).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
      expect(shown.startsWith('"') ? JSON.parse(shown) : shown).toBe(key);
      // The rule of the CLI's other watch lines (src/cli/printable.ts), which the core cannot import.
      expect(shown).toBe(showToken(key));
    }
    // A forged instance id or field name cannot add fields or lines either.
    expect(formatEvent('set', { key: 'k', at: AT, instance: 'x instance=y\nz' })).toBe(`${TIME} set key=k instance="x instance=y\\nz"`);
    expect(formatEvent('set', { key: 'k', 'bad name\n': 'v', at: AT, instance: ID })).toBe(`${TIME} set key=k instance=${ID}`);
  });
});

describe('logEvents', () => {
  it('prints every event of a cache as formatEvent does, reads included, until stopped', async () => {
    const namespace = uniqueNamespace('log');
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const cache = makeCache<number>({ namespace, store, transport });
    const other = makeCache<number>({ namespace, store, transport });
    const lines: string[] = [];
    const payloads: string[] = [];
    for (const event of ['hit', 'miss', 'set', 'delete', 'clear', 'invalidate', 'bus:up'] as const) {
      cache.on(event, (payload: object) => payloads.push(formatEvent(event, payload as Record<string, unknown>)));
    }
    const stop = logEvents(cache, { stream: { write: (text: string) => lines.push(text) } });
    await waitFor(() => cache.stats().bus === 'up' && other.stats().bus === 'up', 'buses up');
    await cache.get('k');
    await cache.set('k', 1);
    await cache.get('k');
    await cache.delete('k');
    await other.set('j', 2);
    await waitFor(() => lines.some((l) => l.includes(' invalidate ')), 'the invalidation');
    await cache.clear();
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    expect(lines.map((l) => l.slice(0, -1))).toEqual(payloads);
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['bus:up', 'miss', 'set', 'hit', 'delete', 'invalidate', 'clear']);
    expect(lines[3]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z hit key=k tier=memory instance=${cache.instanceId}\\n$`));
    stop();
    stop();
    await cache.get('k');
    expect(lines).toHaveLength(7);
    expect(cache.listenerCount('hit')).toBe(1);
    expect(cache.listenerCount('error')).toBe(0);
  });

  it('prints an error with the time it was seen and the cache it came from', () => {
    const cache = makeCache();
    const lines: string[] = [];
    logEvents(cache, { stream: { write: (text: string) => lines.push(text) } });
    cache.emit('error', new BusError('closed with 2 invalidation(s) not yet published: the bus was down'));
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^\\S+Z error message="BusError: closed with 2 invalidation\\(s\\) not yet published: the bus was down" instance=${cache.instanceId}\\n$`,
        ),
      ),
    ]);
  });

  it('writes to process.stderr by default, and refuses what is not a cache or a stream', () => {
    const cache = makeCache();
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((text: string) => written.push(text) > 0) as typeof write;
    try {
      const stop = logEvents(cache);
      cache.emit('clear', { at: AT, instance: cache.instanceId });
      stop();
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual([`${TIME} clear instance=${cache.instanceId}\n`]);
    expect(() => logEvents(undefined as never)).toThrow(
      new TypeError('synced-cache: logEvents: cache must be a SyncedCache (or stash.cache)'),
    );
    expect(() => logEvents(cache, { stream: {} as never })).toThrow(
      new TypeError('synced-cache: logEvents: option "stream" must have a write(text) method, e.g. process.stdout'),
    );
    expect(() => logEvents(cache, null as never)).toThrow(new TypeError('synced-cache: logEvents: options must be an object { stream }'));
  });
});
