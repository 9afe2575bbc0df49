import { connect, createServer, type Server, type Socket } from 'node:net';

/** What a blackhole does to connections opened while it lasts. */
export type NewConnections = 'hold' | 'pass';

/**
 * A TCP proxy in front of a real server, for failures a real server cannot produce on demand:
 * - `cut()`: reset every connection and refuse new ones, until `restore()`;
 * - `blackhole()`: the connections open now go silent for good (bytes vanish both ways, sockets stay
 *   open, as on a network path that died); connections opened meanwhile are held (accepted, never
 *   answered, until `restore()`) or, with `'pass'`, work (a new path exists);
 * - `freeze()`: what a SIGSTOPped server looks like from the network, for a server we may not signal (a
 *   shared PostgreSQL): connections stay open and new ones are accepted, but nothing is answered; bytes
 *   both ways are kept, in order, and delivered at `restore()`, as the kernel's buffers would;
 * - `latency(ms)`: every chunk, both ways, is delayed by `ms` (order kept, also across a change of `ms`).
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  cut(): void;
  blackhole(newConnections?: NewConnections): void;
  freeze(): void;
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
  /** Bytes both ways stopped by `freeze()`, in arrival order, with where each was going. */
  frozen: { toClient: boolean; chunk: Buffer }[];
  /** Bytes waiting out the latency, per direction. */
  toClient: Delayed;
  toUpstream: Delayed;
}

/**
 * One direction's delayed bytes. Sent by one timer in arrival order: with a timer per chunk, a chunk that
 * arrived after `latency()` changed (or after `restore()`) could overtake earlier ones and corrupt the stream.
 */
interface Delayed {
  queue: { at: number; chunk: Buffer }[];
  timer: NodeJS.Timeout | undefined;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const links = new Set<Link>();
  let mode: 'pass' | 'cut' | 'blackhole' | 'freeze' = 'pass';
  let newConnections: NewConnections = 'hold';
  let delay = 0;
  let accepted = 0;

  const forward = (link: Link, toClient: boolean, chunk: Buffer) => {
    if (link.dead) return;
    if (mode === 'freeze') {
      link.frozen.push({ toClient, chunk });
      return;
    }
    const delayed = toClient ? link.toClient : link.toUpstream;
    if (delay === 0 && delayed.queue.length === 0) {
      (toClient ? link.client : link.upstream)?.write(chunk);
      return;
    }
    delayed.queue.push({ at: performance.now() + delay, chunk });
    if (delayed.timer === undefined) drain(link, toClient);
  };

  const drain = (link: Link, toClient: boolean) => {
    const delayed = toClient ? link.toClient : link.toUpstream;
    delayed.timer = undefined;
    while (!link.dead && delayed.queue.length > 0) {
      const next = delayed.queue[0] as { at: number; chunk: Buffer };
      const wait = next.at - performance.now();
      if (wait > 0) {
        delayed.timer = setTimeout(() => drain(link, toClient), wait);
        return;
      }
      delayed.queue.shift();
      (toClient ? link.client : link.upstream)?.write(next.chunk);
    }
  };

  const drop = (link: Link) => {
    link.dead = true;
    clearTimeout(link.toClient.timer);
    clearTimeout(link.toUpstream.timer);
    link.client.destroy();
    link.upstream?.destroy();
    links.delete(link);
  };

  const open = (link: Link) => {
    const upstream = connect({ port: targetPort, host: targetHost });
    link.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => forward(link, true, chunk));
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
    const link: Link = {
      client,
      upstream: undefined,
      dead: false,
      held: undefined,
      frozen: [],
      toClient: { queue: [], timer: undefined },
      toUpstream: { queue: [], timer: undefined },
    };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.held !== undefined) link.held.push(chunk);
      else forward(link, false, chunk);
    });
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    // A frozen server's kernel still completes the handshake; the server reads nothing until it thaws.
    if ((mode === 'blackhole' && newConnections === 'hold') || mode === 'freeze') link.held = [];
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
    freeze() {
      mode = 'freeze';
    },
    latency(ms: number) {
      delay = ms;
    },
    restore() {
      mode = 'pass';
      delay = 0;
      for (const link of [...links]) {
        if (link.held !== undefined && !link.dead) open(link);
        const frozen = link.frozen;
        link.frozen = [];
        for (const { toClient, chunk } of frozen) forward(link, toClient, chunk);
      }
    },
    async close() {
      mode = 'cut';
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
