import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { maskUrl, Scrubber, secretsOf } from '../../src/redis/scrub.js';

class ReplyError extends Error {
  command: { name: string; args: unknown[] } | undefined;
}

describe('scrubbing credentials from errors', () => {
  it('masks the password of a URL, and only that', () => {
    expect(maskUrl('redis://alice:s3cret@cache.internal:6380/2')).toBe('redis://alice:***@cache.internal:6380/2');
    expect(maskUrl('connect to rediss://:s3cret@h:1 failed')).toBe('connect to rediss://:***@h:1 failed');
    expect(maskUrl('redis://cache.internal:6380')).toBe('redis://cache.internal:6380');
    expect(maskUrl('redis://alice@cache.internal')).toBe('redis://alice@cache.internal');
  });

  it("finds the target's secrets: URL (encoded or not), options, a client's options", () => {
    expect(secretsOf('redis://u:p%40ss@h:1').sort()).toEqual(['p%40ss', 'p@ss']);
    expect(secretsOf('redis://h:1')).toEqual([]);
    expect(secretsOf({ host: 'h', password: 'opt-pass', sentinelPassword: 'sentinel-pass' }).sort()).toEqual(['opt-pass', 'sentinel-pass']);
    const client = { duplicate: () => client, options: { password: 'client-pass' } };
    expect(secretsOf(client as never)).toEqual(['client-pass']);
  });

  it('copies an error chain with AUTH and HELLO arguments masked, class, code and message kept, the original untouched', () => {
    const reply = new ReplyError('WRONGPASS invalid username-password pair or user is disabled.');
    reply.command = { name: 'auth', args: ['alice', 'pass-1'] };
    const hello = new ReplyError('WRONGPASS');
    hello.command = { name: 'hello', args: ['3', 'AUTH', 'bob', Buffer.from('pass-2'), 'SETNAME', 'x'] };
    const system = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6549'), { code: 'ECONNREFUSED', port: 6549 });
    const aggregate = new AggregateError([hello, system], 'all attempts failed for redis://bob:pass-3@h:1');
    const top = new Error('Redis subscriber: WRONGPASS', { cause: reply });
    (reply as { cause?: unknown }).cause = aggregate;
    // A cycle must not hang the copy.
    (system as { cause?: unknown }).cause = top;
    const clean = new Scrubber(['pass-1', 'pass-2', 'pass-3']).error(top);
    const text = inspect(clean, { depth: Number.POSITIVE_INFINITY });
    expect(text).not.toMatch(/pass-[123]/);
    expect(clean.message).toBe('Redis subscriber: WRONGPASS');
    const cause = clean.cause as ReplyError;
    expect(cause).toBeInstanceOf(ReplyError);
    expect(cause.message).toBe(reply.message);
    expect(cause.command).toEqual({ name: 'auth', args: ['alice', '***'] });
    const copiedAggregate = (cause as { cause?: unknown }).cause as AggregateError;
    expect(copiedAggregate.message).toBe('all attempts failed for redis://bob:***@h:1');
    expect((copiedAggregate.errors[0] as ReplyError).command?.args).toEqual(['3', 'AUTH', 'bob', '***', 'SETNAME', 'x']);
    expect(copiedAggregate.errors[1]).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:6549', code: 'ECONNREFUSED', port: 6549 });
    // The originals are the application's to see as they are.
    expect(reply.command.args).toEqual(['alice', 'pass-1']);
  });

  it('masks a known secret wherever it appears in the text of an error, stack included', () => {
    const error = new Error('login with s3cr3t-value refused');
    const clean = new Scrubber(['s3cr3t-value']).error(error);
    expect(clean.message).toBe('login with *** refused');
    expect(clean.stack).not.toContain('s3cr3t-value');
    expect(new Scrubber([]).error('thrown string redis://u:pw@h').message).toBe('thrown string redis://u:***@h');
  });
});
