import type { KeyvStoreAdapter } from 'keyv';
import { CliError } from './errors.js';
import { parseUrl } from './options.js';

// ---------------------------------------------------------------------------------------------------
// Stores: each Keyv adapter is imported only when its scheme is used, so none is required.

export type StoreKind = 'Redis' | 'PostgreSQL' | 'SQLite';

export interface StoreSpec {
  kind: StoreKind;
  uri: string;
  /** The npm package of the Keyv adapter. */
  pkg: string;
}

export function storeSpec(uri: string): StoreSpec {
  const url = parseUrl(uri, '--store', ['redis', 'rediss', 'postgres', 'postgresql', 'sqlite']);
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'Redis', uri, pkg: '@keyv/redis' };
  if (scheme === 'sqlite') return { kind: 'SQLite', uri, pkg: '@keyv/sqlite' };
  return { kind: 'PostgreSQL', uri, pkg: '@keyv/postgres' };
}

/** A Keyv store adapter as constructed from its package's default export. */
export type AdapterClass = new (...args: unknown[]) => KeyvStoreAdapter;

export async function importAdapter(spec: StoreSpec): Promise<AdapterClass> {
  let mod: { default?: unknown };
  try {
    // A variable specifier keeps bundlers and the type checker from requiring the optional packages.
    const name: string = spec.pkg;
    mod = (await import(name)) as { default?: unknown };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && e.message.includes(`'${spec.pkg}'`)) {
      throw new CliError(
        `a ${spec.kind} store (${spec.uri.split(':')[0]}://) needs the ${spec.pkg} package, which is not installed: npm install ${spec.pkg}`,
      );
    }
    throw error;
  }
  const ctor = mod.default;
  if (typeof ctor !== 'function') throw new CliError(`${spec.pkg} does not export a Keyv store adapter class`);
  return ctor as AdapterClass;
}

export interface OpenedStore {
  adapter: KeyvStoreAdapter;
  /** The last error the adapter reported as an event: often the real reason behind a generic failure. */
  lastError(): Error | undefined;
}

export async function openStore(spec: StoreSpec, timeout: number): Promise<OpenedStore> {
  const Adapter = await importAdapter(spec);
  let adapter: KeyvStoreAdapter;
  if (spec.kind === 'Redis') {
    // No reconnecting: a one-shot command should fail at once on a refused connection, not retry.
    adapter = new Adapter({ url: spec.uri, socket: { reconnectStrategy: false, connectTimeout: timeout } }, { throwOnConnectError: true });
  } else if (spec.kind === 'PostgreSQL') {
    adapter = new Adapter({ uri: spec.uri, connectionTimeoutMillis: timeout, max: 2 });
  } else {
    adapter = new Adapter(spec.uri);
  }
  let last: Error | undefined;
  // Adapters report connection failures as 'error' events; unheard, an EventEmitter would throw them.
  (adapter as unknown as { on?: (event: string, fn: (e: Error) => void) => void }).on?.('error', (error) => {
    last = error;
  });
  return { adapter, lastError: () => last };
}
