// Nothing unprinting written raw (printable.ts), on its own; test/integration/cli.test.ts checks it
// through the binary.
import { describe, expect, it } from 'vitest';
import { escapeText, isoTime, showKey, showToken, toJson } from '../../src/cli/printable.js';

describe('printable text', () => {
  it('escapeText writes controls, DEL, C1, separators, bidi and tag characters and lone surrogates as JSON escapes, the rest as it is', () => {
    expect(escapeText('a\nb\r\tc')).toBe('a\\nb\\r\\tc');
    expect(escapeText('\u001b[2J\u007f\u009b31m')).toBe('\\u001b[2J\\u007f\\u009b31m');
    expect(escapeText('x\u2028y\u202ez\u200b')).toBe('x\\u2028y\\u202ez\\u200b');
    expect(escapeText('tag\u{e0041}')).toBe('tag\\udb40\\udc41');
    expect(escapeText('lone\ud800')).toBe('lone\\ud800');
    expect(escapeText('plain "text" é 日本 😀')).toBe('plain "text" é 日本 😀');
  });

  it('toJson is JSON that parses back to the value, with no unprinting character raw', () => {
    const value = { k: 'a\u0085b\u2028c\u009b\u202e\u007f\n', n: [1, 'é'] };
    const json = toJson(value);
    expect(json).toBe('{"k":"a\\u0085b\\u2028c\\u009b\\u202e\\u007f\\n","n":[1,"é"]}');
    expect(JSON.parse(json)).toEqual(value);
  });

  it('showKey keeps plain keys and JSON-quotes the rest, so a line starting with " is always JSON', () => {
    expect(showKey('user:1')).toBe('user:1');
    expect(showKey('with space')).toBe('with space');
    for (const key of ['', ' lead', 'trail ', '"q"', 'a\nb', 'c1\u009b', 'nul\0']) {
      expect(showKey(key).startsWith('"')).toBe(true);
      expect(JSON.parse(showKey(key))).toBe(key);
    }
  });

  it('showToken keeps printable ASCII without spaces and JSON-quotes the rest', () => {
    expect(showToken('5d7395f9-eba9-48bd-913a-984e29b49996')).toBe('5d7395f9-eba9-48bd-913a-984e29b49996');
    expect(showToken('a b')).toBe('"a b"');
    expect(showToken('é')).toBe('"é"');
    expect(showToken('"x')).toBe('"\\"x"');
  });

  it('isoTime shows any time a Date can hold, and null for any other number instead of throwing', () => {
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTime(8.64e15)).toBe('+275760-09-13T00:00:00.000Z');
    expect(isoTime(-8.64e15)).toBe('-271821-04-20T00:00:00.000Z');
    for (const bad of [8.64e15 + 1, -8.64e15 - 1, 1e300, Number.NaN, Number.POSITIVE_INFINITY]) expect(isoTime(bad)).toBeNull();
  });
});
