/** What a transport tells the bus about its subscription. */
export interface TransportHandlers {
  /** A message arrived on the channel (anything but a string is counted and ignored by the bus). */
  message(payload: unknown): void;
  /** The subscription is (again) in place: messages published from now on will arrive. */
  up(): void;
  /** The subscription is lost: messages may be missed until the next `up()`. */
  down(reason: Error): void;
  /** A transport error worth reporting that needs no state change (a failed reconnect attempt). */
  error(error: Error): void;
}

/** How a connection is used: given to {@link BusTransport.open}. */
export interface TransportOpenOptions {
  /**
   * The caller only publishes on the channel and never needs its messages (the event stream): the
   * transport may subscribe to something narrower, a channel of the connection's own, to report
   * `up()`/`down()`, so that it is not sent every message every other process publishes there. A
   * transport that ignores this delivers the channel's messages as usual; they are dropped.
   */
  publishOnly?: boolean;
}

/** One subscription to one channel, with the means to publish on it. */
export interface TransportConnection {
  /** Publishes `payload` on the channel. Rejects when it cannot be sent now; must not queue for later. */
  publish(payload: string): Promise<void>;
  /** Ends the subscription and closes what the transport opened for it. Idempotent. */
  close(): Promise<void>;
  /**
   * Drops the connections this transport opened and opens them afresh. The bus calls it (with backoff)
   * when one of its heartbeats does not come back: a connection whose network path died silently
   * (bytes vanish, the socket stays open) is otherwise kept until the kernel's TCP timeouts, minutes to
   * hours. Returns at once; report the outcome as usual: `down()` if the subscription was up, `up()` once
   * it is in place again. Connections the application passed in are the application's: leave them as
   * they are. Optional: a transport without it only ever reconnects by itself.
   */
  reconnect?(): void;
}

/**
 * A pub/sub medium for the bus. The bus owns sequencing, batching, liveness and recovery; a transport
 * only moves strings. Ship your own by implementing this interface.
 */
export interface BusTransport {
  /**
   * True when a message published on a connection is delivered back to that connection's own
   * subscription (Redis does this). The bus then proves the round trip with heartbeats; otherwise it
   * trusts `up()`/`down()` alone.
   */
  readonly echoesOwnMessages: boolean;
  /** Subscribes to `channel`. Calls `handlers.up()` once the subscription is in place, and again after every recovery. */
  open(channel: string, handlers: TransportHandlers, options?: TransportOpenOptions): TransportConnection;
}
