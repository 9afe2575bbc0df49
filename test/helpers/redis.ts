import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';

/** Starts a private redis-server for the enclosing suite (never the machine's 6379) and stops it afterwards. */
export function useRedisServer(): { readonly server: RedisServer; readonly url: string } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('redis-server not started yet');
      return server;
    },
    get url() {
      if (!server) throw new Error('redis-server not started yet');
      return server.url;
    },
  };
}
