import {
  type BusTransport,
  decodeMessage,
  type InvalidateMessage,
  MessageType,
  type TransportConnection,
  type TransportHandlers,
} from '../../src/index.js';

/**
 * A deterministic in-process bus implementing the real BusTransport interface. Delivery is synchronous to every other connection
 * (and to the publisher itself when `echo`). `failNext` makes the next publish of a given connection reject.
 */
export class Hub {
  readonly conns: { handlers: TransportHandlers; failNext: number; closed: boolean; sent: string[] }[] = [];
  /** Makes the next publish on the `index`th connection opened reject once. */
  failNextPublish(index = 0): void {
    const conn = this.conns[index];
    if (conn === undefined) throw new Error(`no connection ${index} on the hub`);
    conn.failNext++;
  }

  transport(echo = false, syncUp = false): BusTransport {
    const hub = this;
    return {
      echoesOwnMessages: echo,
      open(_channel: string, handlers: TransportHandlers): TransportConnection {
        const conn = { handlers, failNext: 0, closed: false, sent: [] as string[] };
        hub.conns.push(conn);
        if (syncUp) handlers.up();
        else queueMicrotask(() => handlers.up());
        return {
          async publish(payload: string) {
            if (conn.closed) throw new Error('closed');
            if (conn.failNext > 0) {
              conn.failNext--;
              throw new Error('transient publish failure');
            }
            conn.sent.push(payload);
            for (const other of hub.conns) {
              if (other.closed) continue;
              if (other === conn && !echo) continue;
              other.handlers.message(payload);
            }
          },
          async close() {
            conn.closed = true;
          },
        };
      },
    };
  }
}

/** The keys of the invalidations a hub connection published, in order. */
export function announced(hub: Hub, namespace: string, index = 0): (readonly string[] | '*')[] {
  return (hub.conns[index]?.sent ?? [])
    .map((payload) => decodeMessage(namespace, payload, 1 << 20))
    .filter((m): m is InvalidateMessage => typeof m !== 'string' && m.type === MessageType.Invalidate)
    .map((m) => m.keys);
}
