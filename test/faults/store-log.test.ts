import { describe, expect, it } from 'vitest';
import { landingOfMonitorLine, landingsOfPostgresRows, monitorArgs, valueIdOf } from './store-log.js';

// The store logs tell the checker when writes in doubt landed; a misread line would be a false verdict.

describe("reading the store's log of changes", () => {
  const ns = 'faults-redis-1-abc';

  it('undoes the quoting of Redis MONITOR arguments', () => {
    expect(monitorArgs('"SET" "a b" "say \\"hi\\"" "back\\\\slash" "\\x01\\n"')).toEqual([
      'SET',
      'a b',
      'say "hi"',
      'back\\slash',
      '\x01\n',
    ]);
  });

  it('turns a SET (with or without PX) and a DEL/UNLINK of a workload key into landings, and ignores the rest', () => {
    const record = '{\\"value\\":{\\"k\\":\\"k07\\",\\"w\\":\\"p2\\",\\"s\\":41},\\"expires\\":null}';
    expect(landingOfMonitorLine(`+1700000000.123456 [0 127.0.0.1:50000] "SET" "${ns}::${ns}:k07" "${record}"`, ns)).toEqual({
      key: 'k07',
      v: 'p2:41',
      t: 1700000000123.456,
    });
    expect(landingOfMonitorLine(`+1700000000.000001 [0 127.0.0.1:50000] "SET" "${ns}:k07" "${record}" "PX" "3000"`, ns)).toMatchObject({
      v: 'p2:41',
      ttl: 3000,
    });
    expect(landingOfMonitorLine(`+1700000000.5 [0 127.0.0.1:50000] "UNLINK" "${ns}:k07"`, ns)).toEqual({
      key: 'k07',
      v: null,
      t: 1700000000500,
    });
    expect(landingOfMonitorLine(`+1700000000.5 [0 127.0.0.1:50000] "GET" "${ns}:k07"`, ns)).toBeUndefined();
    expect(landingOfMonitorLine(`+1700000000.5 [0 127.0.0.1:50000] "DEL" "other-namespace:k07"`, ns)).toBeUndefined();
    expect(landingOfMonitorLine('+OK', ns)).toBeUndefined();
  });

  it("names the value inside Keyv's record, and flags one that is not the workload's", () => {
    expect(valueIdOf('{"value":{"k":"k01","w":"p1","s":3},"expires":null}')).toBe('p1:3');
    expect(valueIdOf('{"value":42}')).toBe('BAD:{"value":42}');
    expect(valueIdOf('not json')).toBe('BAD:not json');
  });

  it('reads the PostgreSQL trigger log', () => {
    expect(
      landingsOfPostgresRows(
        [
          { key: `${ns}:k03`, value: '{"value":{"k":"k03","w":"p3","s":9},"expires":null}', t: 1700000000001.5 },
          { key: `${ns}:k03`, value: null, t: 1700000000002 },
          { key: 'elsewhere:k03', value: null, t: 1700000000003 },
        ],
        ns,
      ),
    ).toEqual([
      { key: 'k03', v: 'p3:9', t: 1700000000001.5 },
      { key: 'k03', v: null, t: 1700000000002 },
    ]);
  });
});
