import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BusMessage, channelFor, decodeMessage, encodeMessage, MessageSigner, MessageType } from '../../src/index.js';

// Property tests of the codec. "Valid" means: a payload that encodeMessage could have produced for this
// namespace (with this signer when signing). So the decoder must accept exactly the payloads p for which
// p === encodeMessage(namespace, decodeMessage(namespace, p)), and give back the message that was encoded.
// FUZZ_SCALE=10 runs ten times as many cases (locally; CI keeps the default, a few seconds).

const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const NS = 'ns';
const MAX = 1 << 20;
const signer = new MessageSigner('the key of this namespace');
const otherKey = new MessageSigner('some other key');
/** Inputs generated, over every property. */
let cases = 0;

/** The longest sender id a message may carry (documented in docs/security.md). */
const MAX_SENDER_ID_LENGTH = 128;
const text = fc.string({ unit: 'binary', maxLength: 12 });
const origin = fc.oneof(
  fc.uuid(),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'o'.repeat(MAX_SENDER_ID_LENGTH)),
);
/** Sender ids no valid message carries: longer than MAX_SENDER_ID_LENGTH. */
const longOrigin = fc.string({ minLength: MAX_SENDER_ID_LENGTH + 1, maxLength: MAX_SENDER_ID_LENGTH + 40 });
/** The most milliseconds from the epoch, either way, that a Date can hold. */
const MAX_TIME = 8.64e15;
// encodeMessage writes -0 as 0: a -0 is not a number a valid message can carry.
const finite = fc.double({ min: -MAX_TIME, max: MAX_TIME, noNaN: true }).filter((x) => !Object.is(x, -0));
const sentAt = fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), finite, fc.constantFrom(MAX_TIME, -MAX_TIME));
/** Finite times no valid message carries: beyond what a Date can hold (a watcher could not show them). */
const outOfRange = fc
  .double({ min: MAX_TIME, minExcluded: true, noNaN: true, noDefaultInfinity: true })
  .chain((x) => fc.constantFrom(x, -x));
const seq = fc.oneof(fc.nat(1_000), fc.maxSafeNat());
const keys = fc.oneof(fc.constant('*' as const), fc.array(fc.oneof(text, fc.constantFrom('__proto__', '*', '')), { maxLength: 6 }));
const message: fc.Arbitrary<BusMessage> = fc.oneof(
  fc.record({ type: fc.constant(MessageType.Invalidate), origin, seq, sentAt, keys }),
  fc.record({ type: fc.constant(MessageType.Heartbeat), origin, seq, nonce: seq, sentAt }),
);

/**
 * The decoder's verdict on `payload`, checked against the definition of valid (a payload accepted must be
 * exactly what encodeMessage writes for what it decoded to); a thrown error fails the property. Plain
 * comparisons rather than `expect`, which would cost more than the decoding itself.
 */
function check(payload: unknown, withSigner?: MessageSigner): BusMessage | string {
  const decoded = decodeMessage(NS, payload, MAX, withSigner);
  if (typeof decoded !== 'string' && encodeMessage(NS, decoded, withSigner) !== payload) {
    throw new Error(`accepted a payload that is not what encodeMessage writes for it: ${JSON.stringify(payload)}`);
  }
  return decoded;
}

const refused = (verdict: BusMessage | string) => typeof verdict === 'string';

/** The same message, field by field (a decoded message is a plain object of these fields only). */
function same(a: BusMessage | string, b: BusMessage): boolean {
  if (typeof a === 'string' || a.type !== b.type || a.origin !== b.origin || a.seq !== b.seq || a.sentAt !== b.sentAt) return false;
  if (Object.keys(a).length !== Object.keys(b).length) return false;
  if (a.type === MessageType.Heartbeat) return a.nonce === (b as typeof a).nonce;
  const [x, y] = [a.keys, (b as typeof a).keys];
  return x === '*' || y === '*' ? x === y : x.length === y.length && x.every((key, i) => key === y[i]);
}

// Cheap JSON values of every kind: generating deep ones would cost more than decoding them.
const json = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 4 }),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
);
/** Mostly the right value, sometimes any other. */
const mostly = <T>(right: fc.Arbitrary<T>) => fc.oneof({ arbitrary: right, weight: 12 }, { arbitrary: json, weight: 1 });
/** Once in a few times `change`, else `none`. */
const rarely = <T, N>(change: fc.Arbitrary<T>, none: N) =>
  fc.oneof({ arbitrary: fc.constant(none), weight: 3 }, { arbitrary: change, weight: 1 });

// Objects shaped like a message, in the field order encodeMessage uses, each field mostly right: some
// dropped, some added (`__proto__` and the other kind's fields among them), sometimes reordered. The JSON
// is written by hand, so that a `__proto__` field is a field and not a prototype.
const near = fc
  .tuple(
    rarely(fc.constantFrom('x', 'I', ''), 'i').chain((t) =>
      t === 'i' ? fc.constantFrom(MessageType.Invalidate, MessageType.Heartbeat) : fc.constant(t),
    ),
    fc.record({
      v: mostly(fc.constant(1)),
      ns: mostly(rarely(fc.constantFrom('ns2', '', 'n'), NS)),
      o: mostly(fc.oneof({ arbitrary: origin, weight: 6 }, { arbitrary: longOrigin, weight: 1 })),
      q: mostly(rarely(fc.constantFrom(-1, 1.5, 2 ** 53), 0).chain((wrong) => (wrong === 0 ? seq : fc.constant(wrong)))),
      ts: mostly(fc.oneof({ arbitrary: sentAt, weight: 6 }, { arbitrary: outOfRange, weight: 1 })),
      k: mostly(fc.oneof(keys, fc.array(json, { maxLength: 2 }))),
      n: mostly(seq),
    }),
    rarely(fc.subarray(['v', 'ns', 't', 'o', 'q', 'ts', 'k', 'n'], { minLength: 1, maxLength: 2 }), [] as string[]),
    rarely(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'k', 'n', 'x'), json), null),
    rarely(fc.nat(), null),
  )
  .map(([t, values, dropped, extra, swap]) => {
    const order = t === MessageType.Heartbeat ? ['v', 'ns', 't', 'o', 'q', 'n', 'ts'] : ['v', 'ns', 't', 'o', 'q', 'ts', 'k'];
    const entries: [string, unknown][] = order
      .filter((f) => !dropped.includes(f))
      .map((f) => [f, f === 't' ? t : values[f as keyof typeof values]]);
    if (extra !== null) entries.push(extra);
    if (swap !== null && entries.length > 1) {
      const i = swap % (entries.length - 1);
      [entries[i], entries[i + 1]] = [entries[i + 1] as [string, unknown], entries[i] as [string, unknown]];
    }
    return `{${entries.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value) ?? 'null'}`).join(',')}}`;
  });

/** A valid encoding changed by one of the mutations a fuzzer uses. */
const mutated = fc
  .tuple(message, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 0xffff }), fc.string({ unit: 'binary', maxLength: 8 }), fc.nat(7))
  .map(([m, i, j, x, extra, kind]) => {
    const s = encodeMessage(NS, m);
    const at = i % (s.length + 1);
    const to = at + (j % (s.length - at + 1));
    switch (kind) {
      case 0:
        return s.slice(0, at) + String.fromCharCode((s.charCodeAt(at) ^ x) & 0xffff) + s.slice(at + 1);
      case 1:
        return s.slice(0, at) + s.slice(to);
      case 2:
        return s.slice(0, at) + extra + s.slice(at);
      case 3:
        return s.slice(0, to) + s.slice(at, to) + s.slice(to);
      case 4:
        return s.slice(0, at) + (s[to] ?? '') + s.slice(at + 1, to) + (s[at] ?? '') + s.slice(to + 1);
      case 5:
        return s.replace(/"(q|ts|n|o)":("[^"]*"|[^,}]*)/, `"$1":${JSON.stringify(extra)}`);
      case 6:
        return `${s.slice(0, -1)},${JSON.stringify(extra)}:${x}}`;
      default:
        return s.toUpperCase();
    }
  });

describe('the decoder, fuzzed', () => {
  it('round-trips every valid message, signed or not, and refuses it in another namespace', () => {
    fc.assert(
      fc.property(message, (m) => {
        cases++;
        const plain = encodeMessage(NS, m);
        const signed = encodeMessage(NS, m, signer);
        return (
          same(check(plain), m) &&
          same(check(signed, signer), m) &&
          signed === signer.sign(plain, channelFor(NS), NS) &&
          // Unsigned where signatures are required, signed where they are not, another namespace's.
          refused(check(plain, signer)) &&
          refused(check(signed)) &&
          refused(decodeMessage('ns2', plain, MAX)) &&
          same(decodeMessage('ns2', encodeMessage('ns2', m, signer), MAX, signer), m) &&
          refused(check(encodeMessage('ns2', m, signer), signer))
        );
      }),
      { numRuns: runs(5_000) },
    );
  });

  it('refuses a message whose time a Date cannot hold or whose sender id is longer than 128 characters, signed or not', () => {
    const bad = fc.oneof(
      fc.tuple(message, outOfRange).map(([m, t]) => ({ ...m, sentAt: t })),
      fc.tuple(message, longOrigin).map(([m, o]) => ({ ...m, origin: o })),
    );
    fc.assert(
      fc.property(bad, (m) => {
        cases++;
        return refused(check(encodeMessage(NS, m))) && refused(check(encodeMessage(NS, m, signer), signer));
      }),
      { numRuns: runs(5_000) },
    );
    const at = (sentAt: number, o = 'o') => encodeMessage(NS, { type: MessageType.Invalidate, origin: o, seq: 1, sentAt, keys: ['k'] });
    expect(decodeMessage(NS, at(1e300), MAX)).toBe('missing or invalid timestamp');
    expect(decodeMessage(NS, at(-8.64e15 - 1), MAX)).toBe('missing or invalid timestamp');
    expect(decodeMessage(NS, at(8.64e15), MAX)).toMatchObject({ sentAt: 8.64e15 });
    expect(decodeMessage(NS, at(1, 'o'.repeat(129)), MAX)).toBe('a sender id of 129 characters (at most 128)');
    expect(decodeMessage(NS, at(1, 'o'.repeat(128)), MAX)).toMatchObject({ origin: 'o'.repeat(128) });
  });

  it('never throws on anything and accepts nothing but valid messages: random strings, JSON, values', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          { arbitrary: fc.string({ unit: 'binary' }), weight: 4 },
          { arbitrary: fc.string({ unit: 'binary-ascii' }), weight: 4 },
          { arbitrary: fc.json(), weight: 2 },
          { arbitrary: fc.anything(), weight: 1 },
        ),
        (input) => {
          cases++;
          check(input);
          return refused(check(input, signer));
        },
      ),
      { numRuns: runs(35_000) },
    );
  });

  it('accepts only valid messages among objects shaped like one, with any mix of right and wrong fields', () => {
    fc.assert(
      fc.property(near, (payload) => {
        cases++;
        check(payload);
        return refused(check(payload, signer));
      }),
      { numRuns: runs(20_000) },
    );
  });

  it('accepts a mutated message only if it is still exactly what encodeMessage writes', () => {
    fc.assert(
      fc.property(mutated, (payload) => {
        cases++;
        check(payload);
        return refused(check(payload, signer));
      }),
      { numRuns: runs(25_000) },
    );
  });

  it('refuses every tampered signed message: a flipped byte, a cut, an extension, a swapped signature, another key, namespace or channel', () => {
    const tampered = fc
      .tuple(
        message,
        message,
        fc.nat(),
        fc.integer({ min: 1, max: 0xffff }),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
        fc.nat(6),
      )
      .map(([m, other, i, x, extra, kind]) => {
        const s = encodeMessage(NS, m, signer);
        const body = s.slice(0, -44);
        const at = i % s.length;
        switch (kind) {
          case 0:
            return { s, t: s.slice(0, at) + String.fromCharCode((s.charCodeAt(at) ^ x) & 0xffff) + s.slice(at + 1) };
          case 1:
            return { s, t: s.slice(0, at) };
          case 2:
            return { s, t: s + extra };
          case 3:
            return { s, t: body + encodeMessage(NS, other, signer).slice(-44) };
          case 4:
            return { s, t: otherKey.sign(body, channelFor(NS), NS) };
          case 5:
            return { s, t: signer.sign(body, channelFor('ns2'), 'ns2') };
          default:
            return { s, t: signer.sign(body, `${channelFor(NS)}:events`, NS) };
        }
      })
      .filter(({ s, t }) => s !== t);
    fc.assert(
      fc.property(tampered, ({ t }) => {
        cases++;
        return refused(check(t, signer));
      }),
      { numRuns: runs(25_000) },
    );
  });

  it(`generated at least ${runs(100_000).toLocaleString('en')} inputs for the decoder`, () => {
    expect(cases).toBeGreaterThanOrEqual(runs(100_000));
  });
});
