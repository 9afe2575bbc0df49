import { connect, type Socket } from 'node:net';
import type { Landing, Read } from './history.js';

// The store's own account of every change it applied, with its time: what lets the checker resolve
// writes in doubt (did a timed-out write land, and when?). Read beside the processes, never through
// the fault proxy.

/** The workload's key inside a stored key (`<namespace>:k07`, `<namespace>::<namespace>:k07`, ...). */
function keyOf(stored: string, namespace: string): string | undefined {
  if (!stored.includes(namespace)) return undefined;
  return /:(k\d+)$/.exec(stored)?.[1];
}

/** The value id inside Keyv's serialized record `{"value":{"k","w","s"},"expires":...}`. */
export function valueIdOf(serialized: string): Read {
  try {
    const record = JSON.parse(serialized) as { value?: { w?: unknown; s?: unknown } };
    const value = record?.value;
    if (value === undefined || value === null) return null;
    return typeof value.w === 'string' && typeof value.s === 'number' ? `${value.w}:${value.s}` : `BAD:${serialized.slice(0, 80)}`;
  } catch {
    return `BAD:${serialized.slice(0, 80)}`;
  }
}

/** Splits the arguments of a MONITOR line (`"SET" "key" "va\"lue"`), undoing Redis's quoting. */
export function monitorArgs(text: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    i++;
    let arg = '';
    while (i < text.length && text[i] !== '"') {
      const c = text[i] as string;
      if (c !== '\\') {
        arg += c;
        i++;
        continue;
      }
      const next = text[i + 1];
      if (next === 'x') {
        arg += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      arg += next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : next === 'a' ? '\x07' : next === 'b' ? '\b' : (next ?? '');
      i += 2;
    }
    args.push(arg);
    i++;
  }
  return args;
}

/** A MONITOR line as a landing, if it changes a key of the workload. */
export function landingOfMonitorLine(line: string, namespace: string): Landing | undefined {
  const match = /^\+(\d+)\.(\d+) \[[^\]]*\] (.*)$/.exec(line);
  if (match === null) return undefined;
  const t = Number(match[1]) * 1000 + Number(`0.${match[2]}`) * 1000;
  const [command, stored, ...rest] = monitorArgs(match[3] as string);
  if (command === undefined || stored === undefined) return undefined;
  const name = command.toUpperCase();
  const key = keyOf(stored, namespace);
  if (key === undefined) return undefined;
  if (name === 'SET') {
    const value = rest[0] ?? '';
    const px = rest.findIndex((arg) => arg.toUpperCase() === 'PX');
    const ttl = px >= 0 ? Number(rest[px + 1]) : undefined;
    return { key, v: valueIdOf(value), t, ...(ttl === undefined ? {} : { ttl }) };
  }
  if (name === 'DEL' || name === 'UNLINK' || name === 'GETDEL') return { key, v: null, t };
  return undefined;
}

/** Redis MONITOR on `port`: every command the server runs, in its order, with its time. */
export interface RedisLog {
  readonly landings: Landing[];
  /** Lines that looked like changes of the workload's keys but were not understood. */
  readonly unknown: string[];
  /** Attaches again (after the server restarted); resolves once MONITOR is on. */
  attach(): Promise<void>;
  close(): void;
}

export async function monitorRedis(port: number, namespace: string): Promise<RedisLog> {
  const landings: Landing[] = [];
  const unknown: string[] = [];
  let socket: Socket | undefined;
  const attach = () =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' });
      socket = s;
      let buffer = '';
      let on = false;
      s.setEncoding('utf8');
      s.once('error', (error) => {
        if (!on) reject(error);
      });
      s.on('data', (chunk: string) => {
        buffer += chunk;
        let at = buffer.indexOf('\r\n');
        while (at >= 0) {
          const line = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          at = buffer.indexOf('\r\n');
          if (!on) {
            if (line === '+OK') {
              on = true;
              resolve();
            }
            continue;
          }
          const landing = landingOfMonitorLine(line, namespace);
          if (landing !== undefined) landings.push(landing);
          else if (line.includes(namespace) && /"(SET|DEL|UNLINK|GETDEL|MSET|EXPIRE|PEXPIRE|HSET|MULTI)"/i.test(line)) unknown.push(line);
        }
      });
      s.write('MONITOR\r\n');
    });
  await attach();
  return {
    landings,
    unknown,
    attach,
    close() {
      socket?.destroy();
    },
  };
}

/** The SQL that makes PostgreSQL log every change of `table` into `${table}_log`, with its time. */
export function postgresLogSql(table: string): string[] {
  return [
    // The schema @keyv/postgres creates (its constructor does, asynchronously: wait for it first).
    `CREATE TABLE IF NOT EXISTS ${table} (key VARCHAR(255) PRIMARY KEY, value TEXT)`,
    `CREATE TABLE ${table}_log (id BIGSERIAL PRIMARY KEY, key TEXT, value TEXT, t DOUBLE PRECISION)`,
    `CREATE FUNCTION ${table}_log_fn() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF TG_OP = 'DELETE' THEN
         INSERT INTO ${table}_log (key, value, t) VALUES (OLD.key, NULL, extract(epoch FROM clock_timestamp()) * 1000);
       ELSE
         INSERT INTO ${table}_log (key, value, t) VALUES (NEW.key, NEW.value, extract(epoch FROM clock_timestamp()) * 1000);
       END IF;
       RETURN NULL;
     END $$`,
    `CREATE TRIGGER ${table}_log_trigger AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_log_fn()`,
  ];
}

export function postgresDropSql(table: string): string[] {
  return [`DROP TABLE IF EXISTS ${table}`, `DROP TABLE IF EXISTS ${table}_log`, `DROP FUNCTION IF EXISTS ${table}_log_fn()`];
}

/** Rows of `${table}_log` (in the order PostgreSQL applied them: per key, row locks serialize writers). */
export function landingsOfPostgresRows(rows: readonly { key: string; value: string | null; t: number }[], namespace: string): Landing[] {
  const landings: Landing[] = [];
  for (const row of rows) {
    const key = keyOf(row.key, namespace);
    if (key === undefined) continue;
    landings.push({ key, v: row.value === null ? null : valueIdOf(row.value), t: Number(row.t) });
  }
  return landings;
}
