import { connect, createServer, type Server, type Socket } from 'node:net';

/** What a blackhole does to connections opened while it lasts. */
export type NewConnections = 'hold' | 'pass';

/**
 * A TCP proxy in front of a real server, for failures a real server cannot produce on demand:
 * - `cut()`: reset every connection and refuse new ones, until `restore()`;
 * - `blackhole()`: the connections open now go silent for good (bytes vanish both ways, sockets stay
 *   open, as on a network path that died); connections opened meanwhile are held (accepted, never
 *   answered, until `restore()`) or, with `'pass'`, work (a new path exists);
 * - `latency(ms)`: every chunk, both ways, is delayed by `ms` (order kept).
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  cut(): void;
  blackhole(newConnections?: NewConnections): void;
  latency(ms: number): void;
  restore(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket | undefined;
  /** Silent for good: what arrives is dropped. */
  dead: boolean;
  /** Bytes from the client while the link waits for `restore()`. */
  held: Buffer[] | undefined;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const links = new Set<Link>();
  let mode: 'pass' | 'cut' | 'blackhole' = 'pass';
  let newConnections: NewConnections = 'hold';
  let delay = 0;
  let accepted = 0;

  const forward = (link: Link, to: () => Socket | undefined, chunk: Buffer) => {
    if (link.dead) return;
    const send = () => {
      if (!link.dead) to()?.write(chunk);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  };

  const drop = (link: Link) => {
    link.dead = true;
    link.client.destroy();
    link.upstream?.destroy();
    links.delete(link);
  };

  const open = (link: Link) => {
    const upstream = connect({ port: targetPort, host: targetHost });
    link.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => forward(link, () => link.client, chunk));
    upstream.on('error', () => drop(link));
    upstream.on('close', () => drop(link));
    for (const chunk of link.held ?? []) upstream.write(chunk);
    link.held = undefined;
  };

  const server: Server = createServer((client) => {
    accepted++;
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    const link: Link = { client, upstream: undefined, dead: false, held: undefined };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.held !== undefined) link.held.push(chunk);
      else forward(link, () => link.upstream, chunk);
    });
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    if (mode === 'blackhole' && newConnections === 'hold') link.held = [];
    else open(link);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut() {
      mode = 'cut';
      for (const link of [...links]) drop(link);
    },
    blackhole(next: NewConnections = 'hold') {
      mode = 'blackhole';
      newConnections = next;
      // Silent, not closed: neither side hears of it, as when a path dies without a reset.
      for (const link of links) link.dead = true;
    },
    latency(ms: number) {
      delay = ms;
    },
    restore() {
      mode = 'pass';
      delay = 0;
      for (const link of links) if (link.held !== undefined && !link.dead) open(link);
    },
    async close() {
      mode = 'cut';
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
