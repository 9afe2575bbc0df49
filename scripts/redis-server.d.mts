export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  kill(): Promise<void>;
  freeze(): void;
  thaw(): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
}
export function hasRedisServer(): boolean;
export function freePort(): Promise<number>;
export function startRedisServer(options?: { port?: number; args?: string[] }): Promise<RedisServer>;
