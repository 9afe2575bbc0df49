import { describe, expect, it } from 'vitest';
import { ownMessagePrefix } from '../../src/bus/messages.js';
import { type BusMessage, decodeMessage, encodeMessage, MessageType } from '../../src/index.js';

// A small deterministic generator: the same cases on every run, many shapes of ids, keys and numbers.
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  const alphabet = ['a', 'b', '0', '-', ':', '"', '\\', '{', '}', ',', 'é', '😀', '\n', ' '];
  const text = (max: number) => {
    let out = '';
    const length = Math.floor(next() * max);
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
  const int = (max: number) => Math.floor(next() * max);
  return { next, text, int };
}

// Ids that are prefixes of one another, and ids with characters JSON escapes.
const ORIGINS = ['abc', 'abcd', 'ab', 'a"b', 'a\\"b', '5d7395f9-eba9-48bd-913a-984e29b49996', 'é😀', 'x,"q":1'];
const NAMESPACES = ['default', 'default2', 'def', 'a"b', 'users:{1}'];

describe('the own-message prefix (the codec owns it)', () => {
  it('every invalidation a sender encodes starts with its prefix', () => {
    const g = generator(7);
    for (const namespace of NAMESPACES) {
      for (const origin of ORIGINS) {
        const prefix = ownMessagePrefix(namespace, origin);
        for (let i = 0; i < 200; i++) {
          const keys = g.next() < 0.1 ? '*' : Array.from({ length: g.int(5) }, () => g.text(12));
          const payload = encodeMessage(namespace, {
            type: MessageType.Invalidate,
            origin,
            seq: g.int(2 ** 40),
            sentAt: g.int(2 ** 42),
            keys,
          });
          expect(payload.startsWith(prefix)).toBe(true);
        }
      }
    }
  });

  it('no message of another origin or another namespace starts with it, and no heartbeat does', () => {
    const g = generator(11);
    for (const namespace of NAMESPACES) {
      for (const origin of ORIGINS) {
        const prefix = ownMessagePrefix(namespace, origin);
        for (const otherNamespace of NAMESPACES) {
          for (const otherOrigin of ORIGINS) {
            const invalidation = encodeMessage(otherNamespace, {
              type: MessageType.Invalidate,
              origin: otherOrigin,
              seq: g.int(1_000),
              sentAt: g.int(2 ** 42),
              keys: [g.text(8)],
            });
            const heartbeat = encodeMessage(otherNamespace, {
              type: MessageType.Heartbeat,
              origin: otherOrigin,
              seq: g.int(1_000),
              nonce: g.int(1_000),
              sentAt: g.int(2 ** 42),
            });
            const ours = otherNamespace === namespace && otherOrigin === origin;
            expect({ namespace, origin, otherNamespace, otherOrigin, starts: invalidation.startsWith(prefix) }).toMatchObject({
              starts: ours,
            });
            // A heartbeat of ours included: its nonce must be read, so it is never skipped unparsed.
            expect(heartbeat.startsWith(prefix)).toBe(false);
          }
        }
      }
    }
  });

  it('the prefix ends where the sender ends: text appended after the message does not matter, a changed beginning does', () => {
    const prefix = ownMessagePrefix('ns', 'me');
    const payload = encodeMessage('ns', { type: MessageType.Invalidate, origin: 'me', seq: 1, sentAt: 5, keys: ['k'] });
    // A signature will be appended as a suffix.
    expect(`${payload}.c2lnbmF0dXJl`.startsWith(prefix)).toBe(true);
    expect(payload.replace('"v":1', '"v":2').startsWith(prefix)).toBe(false);
  });

  it('the wire format is unchanged: the same JSON fields, and decoding gives back what was encoded', () => {
    const messages: BusMessage[] = [
      { type: MessageType.Invalidate, origin: 'o"1', seq: 3, sentAt: 1_700_000_000_000, keys: ['a', 'b"c'] },
      { type: MessageType.Invalidate, origin: 'o', seq: 0, sentAt: 0, keys: '*' },
      { type: MessageType.Heartbeat, origin: 'o', seq: 9, nonce: 4, sentAt: 12 },
    ];
    for (const message of messages) {
      const payload = encodeMessage('ns', message);
      expect(decodeMessage('ns', payload, 1 << 20)).toEqual(message);
    }
    expect(JSON.parse(encodeMessage('ns', messages[0] as BusMessage))).toEqual({
      v: 1,
      ns: 'ns',
      t: 'i',
      o: 'o"1',
      q: 3,
      ts: 1_700_000_000_000,
      k: ['a', 'b"c'],
    });
    expect(Object.keys(JSON.parse(encodeMessage('ns', messages[0] as BusMessage)))).toEqual(['v', 'ns', 't', 'o', 'q', 'ts', 'k']);
  });
});

describe('the decoder cannot be steered through prototypes', () => {
  const ns = 'ns';
  const valid = encodeMessage(ns, { type: MessageType.Invalidate, origin: 'o', seq: 1, sentAt: 5, keys: ['k'] });
  const heartbeat = encodeMessage(ns, { type: MessageType.Heartbeat, origin: 'o', seq: 1, nonce: 2, sentAt: 5 });

  it('a message hidden under __proto__, or with __proto__, constructor or prototype fields, is refused', () => {
    const payloads = [
      `{"__proto__":${valid}}`,
      `{"__proto__":{"v":1},${valid.slice(1)}`,
      `{"__proto__":{"v":1,"ns":"ns","t":"i","o":"o","q":1,"ts":5,"k":["k"]}}`,
      `${valid.slice(0, -1)},"__proto__":{"k":"*"}}`,
      `${valid.slice(0, -1)},"constructor":{"prototype":{"k":"*"}}}`,
      `${valid.slice(0, -1)},"prototype":{}}`,
      `${heartbeat.slice(0, -1)},"__proto__":{"n":1}}`,
      `{"v":1,"ns":"ns","t":"h","o":"o","q":1,"ts":5,"__proto__":{"n":2}}`,
      `{"v":1,"ns":"ns","t":"i","o":"o","q":1,"ts":5,"__proto__":{"k":["k"]}}`,
    ];
    for (const payload of payloads) {
      expect({ payload, decoded: decodeMessage(ns, payload, 1 << 20) }).toEqual({ payload, decoded: expect.any(String) });
    }
  });

  it('no field is read from a polluted Object.prototype, and a decoded message holds only its own fields', () => {
    const polluted = Object.prototype as Record<string, unknown>;
    const fields = { v: 1, ns, t: 'i', o: 'o', q: 1, ts: 5, k: '*', n: 2 };
    for (const [name, value] of Object.entries(fields)) polluted[name] = value;
    try {
      // Every field missing in turn: what is missing must not be found on the prototype.
      for (const name of ['v', 'ns', 't', 'o', 'q', 'ts', 'k']) {
        const partial = JSON.parse(valid) as Record<string, unknown>;
        delete partial[name];
        const payload = JSON.stringify(Object.fromEntries(Object.entries(partial)));
        expect({ name, decoded: decodeMessage(ns, payload, 1 << 20) }).toEqual({ name, decoded: expect.any(String) });
      }
      const partial = JSON.parse(heartbeat) as Record<string, unknown>;
      delete partial.n;
      expect(decodeMessage(ns, JSON.stringify(Object.fromEntries(Object.entries(partial))), 1 << 20)).toBe(
        'heartbeat without a valid nonce',
      );
      expect(decodeMessage(ns, '{}', 1 << 20)).toBe('unknown protocol version undefined');
      const decoded = decodeMessage(ns, valid, 1 << 20) as BusMessage;
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect(Object.keys(decoded)).toEqual(['type', 'origin', 'seq', 'sentAt', 'keys']);
      expect(Object.getOwnPropertyNames(decoded)).toEqual(['type', 'origin', 'seq', 'sentAt', 'keys']);
    } finally {
      for (const name of Object.keys(fields)) delete polluted[name];
    }
  });

  it('a sender id or key named __proto__ is only a string', () => {
    const message: BusMessage = {
      type: MessageType.Invalidate,
      origin: '__proto__',
      seq: 1,
      sentAt: 5,
      keys: ['__proto__', 'constructor'],
    };
    const decoded = decodeMessage(ns, encodeMessage(ns, message), 1 << 20);
    expect(decoded).toEqual(message);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('a JSON that is not exactly what encodeMessage writes is refused: whitespace, order, repeated fields, other spellings', () => {
    const payloads = [
      valid.replace(',', ', '),
      ` ${valid}`,
      `${valid}\n`,
      valid.replace('"q":1', '"q":1.0'),
      valid.replace('"ts":5', '"ts":5e0'),
      valid.replace('"o":"o"', '"o":"\\u006f"'),
      valid.replace('"v":1,"ns":"ns"', '"ns":"ns","v":1'),
      `${valid.slice(0, -1)},"k":"*"}`,
      `${valid.slice(0, -1)},"extra":1}`,
      valid.replace(',"ts":5', ''),
      valid.replace('"q":1', '"q":-0'),
    ];
    for (const payload of payloads) {
      expect(JSON.parse(payload)).toBeTypeOf('object');
      expect({ payload, decoded: decodeMessage(ns, payload, 1 << 20) }).toEqual({ payload, decoded: expect.any(String) });
    }
  });
});
