import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { KeyvStoreAdapter } from 'keyv';

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
  disconnect(): Promise<void>;
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
  const adapter = spec.build(Adapter, url);
  return {
    adapter,
    async disconnect() {
      await (adapter as { disconnect?: () => Promise<void> }).disconnect?.();
    },
  };
}
