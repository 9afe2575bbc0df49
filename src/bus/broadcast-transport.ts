import { BroadcastChannel } from 'node:worker_threads';
import type { BusTransport, TransportConnection, TransportHandlers } from './transport.js';

/**
 * An in-process transport on `BroadcastChannel` from `node:worker_threads`: every cache of the same
 * namespace in this process, in any worker thread, hears the others. For apps that share a cache
 * between worker threads, for tests, and for trying the library without Redis. A channel does not hear
 * its own messages, so liveness is not proven by a round trip; the bus still sends heartbeats on it, to
 * announce sequence numbers.
 */
export class BroadcastChannelTransport implements BusTransport {
  readonly echoesOwnMessages = false;

  open(channel: string, handlers: TransportHandlers): TransportConnection {
    const bc = new BroadcastChannel(channel);
    // Listening must not keep the process alive on its own.
    (bc as unknown as { unref?: () => void }).unref?.();
    bc.onmessage = (event: unknown) => {
      handlers.message((event as { data?: unknown }).data);
    };
    let closed = false;
    queueMicrotask(() => {
      if (!closed) handlers.up();
    });
    return {
      async publish(payload: string): Promise<void> {
        if (closed) throw new Error('BroadcastChannel transport is closed');
        bc.postMessage(payload);
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        bc.close();
      },
    };
  }
}
