import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { KeyvStoreAdapter } from 'keyv';
import { withTimeout } from '../clock.js';

/** The Keyv adapter package a store URL's scheme names, and how it is built from the URL. */
const SCHEMES: Record<
  string,
  { pkg: string; build(Adapter: new (...args: unknown[]) => KeyvStoreAdapter, url: string): KeyvStoreAdapter }
> = {
  redis: { pkg: '@keyv/redis', build: (Adapter, url) => new Adapter(url) },
  rediss: { pkg: '@keyv/redis', build: (Adapter, url) => new Adapter(url) },
  postgres: { pkg: '@keyv/postgres', build: (Adapter, url) => new Adapter({ uri: url }) },
  postgresql: { pkg: '@keyv/postgres', build: (Adapter, url) => new Adapter({ uri: url }) },
  sqlite: { pkg: '@keyv/sqlite', build: (Adapter, url) => new Adapter(url) },
  mysql: { pkg: '@keyv/mysql', build: (Adapter, url) => new Adapter(url) },
};

/** The schemes a store URL may have. */
export const STORE_URL_SCHEMES = Object.keys(SCHEMES);

/** The scheme of `url` when it is one we know, else undefined. */
export function storeUrlScheme(url: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  return scheme !== undefined && scheme in SCHEMES ? scheme : undefined;
}

/** A store the cache built from a URL: its own, closed by `close()`. */
export interface OwnedStore {
  adapter: KeyvStoreAdapter;
  /** Closes the adapter: politely, then forced once `within` ms have passed (0: wait as long as it takes). */
  disconnect(within: number): Promise<void>;
  /** Where failures the adapter's client reports only as events go (set by the cache). */
  report: ((error: Error) => void) | undefined;
}

// Resolved from the application first (where the adapter package is installed), then from here.
const requirers = [() => createRequire(join(process.cwd(), 'noop.js')), () => createRequire(import.meta.url)];

function load(pkg: string): unknown {
  let first: unknown;
  for (const requirer of requirers) {
    try {
      return requirer()(pkg);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
      first ??= error;
    }
  }
  throw first;
}

/**
 * Builds the Keyv adapter a store URL names (`redis://` with @keyv/redis, `postgres://` with
 * @keyv/postgres, `sqlite://` with @keyv/sqlite, `mysql://` with @keyv/mysql), which the application
 * installs: none of them is a dependency of this package. Throws a TypeError naming the package to
 * install when it is missing.
 */
export function openStoreUrl(url: string): OwnedStore {
  const scheme = storeUrlScheme(url);
  const spec = scheme === undefined ? undefined : SCHEMES[scheme];
  if (spec === undefined)
    throw new TypeError(`synced-cache: option "store": unknown store URL scheme (known: ${STORE_URL_SCHEMES.join(', ')})`);
  let mod: unknown;
  try {
    mod = load(spec.pkg);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new TypeError(`synced-cache: option "store": a ${scheme}:// store needs the ${spec.pkg} package: npm install ${spec.pkg}`, {
        cause: error,
      });
    }
    throw error;
  }
  const Adapter = ((mod as { default?: unknown }).default ?? mod) as new (...args: unknown[]) => KeyvStoreAdapter;
  if (typeof Adapter !== 'function') throw new TypeError(`synced-cache: option "store": ${spec.pkg} exports no Keyv store adapter class`);
  const owned: OwnedStore = {
    adapter: undefined as unknown as KeyvStoreAdapter,
    async disconnect(within: number) {
      const adapter = owned.adapter as { disconnect?: (force?: boolean) => Promise<void> };
      // A polite close waits for a frozen server forever; past `within`, force it (@keyv/redis: destroy the
      // socket), so that nothing of the cache keeps the process alive.
      const polite = Promise.resolve(adapter.disconnect?.());
      const done = await withTimeout(
        polite.then(() => true),
        within,
        () => new Error('store close timed out'),
      ).catch(() => false);
      if (!done) await Promise.resolve(adapter.disconnect?.(true)).catch(() => {});
    },
    report: undefined,
  };
  const build = () => spec.build(Adapter, url);
  owned.adapter = spec.pkg === '@keyv/postgres' ? withPoolErrorsHeard(build, (error) => owned.report?.(error)) : build();
  return owned;
}

/**
 * @keyv/postgres (2.x) never listens to its pg pool's 'error' events, and pg emits one when an idle pooled
 * connection is cut (a PostgreSQL restart, a network cut): unheard, it ends the process. The pool is not
 * reachable from the adapter, but it is built synchronously by the adapter's constructor from `pg.Pool`,
 * so while the adapter is built here `pg.Pool` is a subclass that listens. Nothing changes if pg cannot be
 * found from the adapter's package (another layout): the adapter is built as it is.
 */
function withPoolErrorsHeard(build: () => KeyvStoreAdapter, report: (error: Error) => void): KeyvStoreAdapter {
  let pg: { Pool?: new (...args: unknown[]) => { on(event: 'error', listener: (error: Error) => void): unknown } } | undefined;
  for (const requirer of requirers) {
    try {
      pg = createRequire(requirer().resolve('@keyv/postgres'))('pg') as typeof pg;
      break;
    } catch {
      pg = undefined;
    }
  }
  const Original = pg?.Pool;
  if (pg === undefined || typeof Original !== 'function') return build();
  class HeardPool extends Original {
    constructor(...args: unknown[]) {
      super(...args);
      // pg attaches the client (with its connection details) to the error: report what failed, not that.
      this.on('error', (error: Error) => {
        const reported = new Error(`the PostgreSQL pool lost a connection: ${error.message}`);
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string') (reported as Error & { code?: string }).code = code;
        report(reported);
      });
    }
  }
  pg.Pool = HeardPool;
  try {
    return build();
  } finally {
    pg.Pool = Original;
  }
}
