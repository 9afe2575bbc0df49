// Credentials out of what the CLI prints (redact.ts), on their own; test/integration/cli.test.ts
// checks them through the binary.
import { describe, expect, it } from 'vitest';
import { maskOptionValues, redactUrl, rememberArgumentSecrets, rememberSecrets, scrub } from '../../src/cli/redact.js';

describe('redactUrl', () => {
  it.each([
    // Parsed cleanly: the user name stays, the password goes.
    ['redis://ada:s3cret@127.0.0.1:6379', 'redis://ada:***@127.0.0.1:6379'],
    ['redis://:s3cret@127.0.0.1:6379/2', 'redis://:***@127.0.0.1:6379/2'],
    ['rediss://default:s3cret@cache.example.com:6380', 'rediss://default:***@cache.example.com:6380'],
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['sqlite://./cache.sqlite', 'sqlite://./cache.sqlite'],
    // Not parseable: everything from // to the last @ goes.
    ['redis://ada:s3cret@127.0.0.1:99999', 'redis://***@127.0.0.1:99999'],
    ['redis://ada:s3cret@bad host:6379', 'redis://***@bad host:6379'],
    ['redis://ada:s3cret@[oops', 'redis://***@[oops'],
    ['redis://[oops', 'redis://[oops'],
    // A password holding its own unencoded @, / or ?: masked up to the last @ (the parser agrees on an @).
    ['redis://ada:pa@ss@127.0.0.1:6379', 'redis://ada:***@127.0.0.1:6379'],
    ['redis://ada:12/s@127.0.0.1:6379', 'redis://***@127.0.0.1:6379'],
    ['redis://ada:12?s@127.0.0.1:6379', 'redis://***@127.0.0.1:6379'],
    // Password-like query parameters, whatever the rest of the URL.
    ['redis://127.0.0.1:6379/?password=s3cret', 'redis://127.0.0.1:6379/?password=***'],
    ['redis://127.0.0.1:6379/?db=1&password=s3cret&name=x', 'redis://127.0.0.1:6379/?db=1&password=***&name=x'],
    ['postgres://u@h/db?sslpassword=a&sslmode=require&token=b', 'postgres://u@h/db?sslpassword=***&sslmode=require&token=***'],
    ['redis://h:1/?pass%77ord=s3cret', 'redis://h:1/?pass%77ord=***'],
    ['redis://h:99999/?password=s3cret#frag', 'redis://h:99999/?password=***#frag'],
    ['redis://h:1/?flag&password=s3cret;secret=x', 'redis://h:1/?flag&password=***;secret=***'],
    ['redis://h:1/?password=', 'redis://h:1/?password='],
  ])('%s -> %s', (raw, shown) => {
    expect(redactUrl(raw)).toBe(shown);
  });
});

describe('scrub', () => {
  it('redacts every URL in a message and masks the remembered secrets wherever they appear', () => {
    expect(scrub('connect to redis://ada:pw1234@h:6379 failed (redis://x)')).toBe('connect to redis://ada:***@h:6379 failed (redis://x)');
    rememberSecrets('redis://ada:pa ss%21word@h:6379/?token=tok-123');
    // A URL cut short by a space in its password, the password decoded, the query secret alone.
    expect(scrub('bad URL redis://ada:pa ss%21word@h, auth "pa ss!word" and tok-123')).toBe('bad URL redis://***@h, auth "***" and ***');
  });
});

describe('secrets on the command line', () => {
  it('remembers the secrets of the environment, after --secret and --encryption-key, and in any secret-looking --name=value', () => {
    rememberArgumentSecrets(
      ['--secret', 'arg-secret-1', '--encryption-key', 'arg-key-2', '--api-token=tok-3', '--db-password=pw-4', '--ttl=10m', 'get', 'k'],
      { SYNCED_CACHE_SECRET: 'env-secret-5', SYNCED_CACHE_ENCRYPTION_KEY: 'env-key-6', SYNCED_CACHE_NAMESPACE: 'ns-7' },
    );
    expect(scrub('arg-secret-1 arg-key-2 tok-3 pw-4 env-secret-5 env-key-6')).toBe('*** *** *** *** *** ***');
    // Only secrets: the ttl, the namespace, the command and its key are shown as they are.
    expect(scrub('10m ns-7 get k')).toBe('10m ns-7 get k');
  });

  it('masks the value of any --name=value that Commander quotes whole (an unknown option, mistyped or not), and nothing else', () => {
    const argv = ['--secert=hunter2', '--ttl=soon', 'set', 'k', 'v'];
    expect(maskOptionValues("error: unknown option '--secert=hunter2'", argv)).toBe("error: unknown option '--secert=***'");
    expect(maskOptionValues("error: option '--ttl <duration>' argument 'soon' is invalid.", argv)).toBe(
      "error: option '--ttl <duration>' argument 'soon' is invalid.",
    );
  });
});
