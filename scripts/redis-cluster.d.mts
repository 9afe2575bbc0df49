export interface RedisCluster {
  readonly ports: number[];
  readonly startupNodes: { host: string; port: number }[];
  /** The slot of `key` and the port of the master serving it, as the cluster reports them. */
  ownerOf(key: string): Promise<{ slot: number; port: number }>;
  command(port: number, ...args: string[]): Promise<string>;
  kill(port: number): Promise<void>;
  restart(port: number): Promise<void>;
  waitForOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}
export function startRedisCluster(options?: { masters?: number; nodeTimeout?: number }): Promise<RedisCluster>;
