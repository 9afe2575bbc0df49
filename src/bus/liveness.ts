/** What a heartbeat beat calls for. */
export type BeatVerdict =
  /** The probe out there may still come back: wait. */
  | 'wait'
  /** No probe is out (or it was answered): send a new one. */
  | 'probe'
  /** The probe out there is older than the timeout: the bus is not up; send a new one. */
  | 'unanswered';

// The longest wait between two reconnects while the bus stays down.
const MAX_RECONNECT_BACKOFF = 30_000;

/**
 * Whether the bus is proven up, judged from its own heartbeats coming back (echoing transports only).
 *
 * One probe is out at a time: a beat sends a new one only once the last was answered or is older than
 * `timeout`, so a bus that stops answering is noticed within `2 × interval + timeout`. Only a probe sent
 * after the bus last went down (at or above the up floor) can bring it up: an answer to an older one
 * proves nothing about now. A late beat (the event loop stalled longer than `interval + timeout / 2`, so
 * the answer may be waiting unread in the socket: timers run before I/O is polled) is excused once per
 * probe and judged at the next beat, so timers that are always late cannot hide a dead bus. An unanswered
 * probe calls for a reconnect (a connection whose path died silently would otherwise wait for the
 * kernel's TCP timeouts): at once for the first after the bus was up, then, while it stays down, after
 * `timeout × 2^n` (at most 30 s) since the n-th. No I/O: the bus sends the probes and reconnects.
 */
export class Liveness {
  readonly #interval: number;
  readonly #timeout: number;
  #nonce = 0;
  #probe: { nonce: number; sentAt: number; stallExcused: boolean } | undefined;
  #upFloor = 1;
  #lastBeat: number;
  #reconnects = 0;
  #lastReconnect = Number.NEGATIVE_INFINITY;

  constructor(heartbeat: { interval: number; timeout: number }, now: number) {
    this.#interval = heartbeat.interval;
    this.#timeout = heartbeat.timeout;
    this.#lastBeat = now;
  }

  /** Judges the probe out there at the beat at `now`. */
  beat(now: number): BeatVerdict {
    const probe = this.#probe;
    const late = now - this.#lastBeat > this.#interval + this.#timeout / 2;
    this.#lastBeat = now;
    if (probe === undefined) return 'probe';
    if (late && !probe.stallExcused) {
      probe.stallExcused = true;
      return 'wait';
    }
    if (now - probe.sentAt <= this.#timeout) return 'wait';
    this.#probe = undefined;
    return 'unanswered';
  }

  /** Starts a probe sent at `now`; returns the nonce it carries. */
  probe(now: number): number {
    const nonce = this.nextNonce();
    this.#probe = { nonce, sentAt: now, stallExcused: false };
    return nonce;
  }

  /** The nonce of a heartbeat that is not a probe (one that only announces the sequence number). */
  nextNonce(): number {
    return ++this.#nonce;
  }

  /** Our heartbeat `nonce` came back. True when it proves the bus up: it was sent after the bus last went down. */
  answered(nonce: number): boolean {
    if (this.#probe !== undefined && nonce >= this.#probe.nonce) this.#probe = undefined;
    return nonce >= this.#upFloor;
  }

  /** The bus went down: only heartbeats sent from now on can bring it back up. */
  wentDown(): void {
    this.#upFloor = this.#nonce + 1;
  }

  /** The bus is proven up: the next unanswered probe reconnects at once. */
  wentUp(): void {
    this.#reconnects = 0;
    this.#lastReconnect = Number.NEGATIVE_INFINITY;
  }

  /** After an unanswered probe: whether to reconnect now, by the backoff. Counts the reconnect when it says yes. */
  reconnectDue(now: number): boolean {
    const wait = this.#reconnects === 0 ? 0 : Math.min(this.#timeout * 2 ** this.#reconnects, MAX_RECONNECT_BACKOFF);
    if (now - this.#lastReconnect < wait) return false;
    this.#reconnects++;
    this.#lastReconnect = now;
    return true;
  }
}
