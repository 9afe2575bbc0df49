interface Sender {
  seq: number;
}

/** What a sequence number says about the messages of its sender: see {@link Senders.heard}. */
export type Heard = 'in order' | 'gap' | 'duplicate';

/** Limits of the per-sender state. */
export interface SenderLimits {
  /** Most senders remembered at once (at least 2). */
  max: number;
  /** Milliseconds a silent sender is remembered. */
  maxAge: number;
}

/**
 * The last sequence number of every sender heard from, to notice lost messages.
 *
 * Every invalidation carries its sender's next number (1, 2, 3, ... with no gaps) and every heartbeat
 * its last one, so a number beyond the expected one means messages were lost (a gap). The first number
 * heard from a sender is its baseline: what it sent before concerns writes that landed before memory
 * here could hold anything of theirs. Older numbers are duplicates (a command resent after a
 * reconnect, or a replay): already applied, so they are dropped, and the number never moves back.
 *
 * Bounded by count and age, in two generations: senders heard lately (young) and before (old); a sender
 * heard again moves to the young one. The young generation turns old when it holds `max / 2` senders or
 * is `maxAge` old, and the old one is then forgotten, so at most `max` senders are remembered, each in
 * O(1), whatever the ids a publisher forges. A sender silent for `maxAge` (and at most twice that) is
 * forgotten, and counted in `expired`: live senders heartbeat every interval, so it is gone (or
 * restarted under a new id). A sender forgotten sooner, because the count filled up, is counted in
 * `evicted`, and that one may be alive: its next number would be taken as a fresh baseline and a loss in
 * between would go unseen. So for `maxAge` after an eviction, every sender heard for the first time
 * counts as a gap (memory is dropped once more): within that time a live sender has been heard again,
 * and after it an unknown id is as new as any. No I/O.
 */
export class Senders {
  readonly #maxAge: number;
  readonly #half: number;
  #young = new Map<string, Sender>();
  #old = new Map<string, Sender>();
  /** When the young generation began. */
  #since: number;
  /** Senders heard for the first time before this are counted as gaps. */
  #doubtUntil = Number.NEGATIVE_INFINITY;
  /** Senders forgotten because too many were heard from (possibly alive). */
  evicted = 0;
  /** Senders forgotten after `maxAge` of silence or more. */
  expired = 0;

  /** `max` (at least 2) senders at most, silent ones forgotten after `maxAge` ms; `now` starts the clock. */
  constructor(limits: SenderLimits, now: number) {
    this.#maxAge = limits.maxAge;
    this.#half = Math.max(1, Math.floor(limits.max / 2));
    this.#since = now;
  }

  /**
   * Records number `seq` from `origin` heard at `now` (`next`: an invalidation, which takes the next
   * number; else a heartbeat, which repeats the last). `'gap'` when messages from `origin` were lost, or
   * may have been; `'duplicate'` when the number is older than expected (an invalidation already heard,
   * a heartbeat older than one heard); else `'in order'`. A sender heard for the first time is in order
   * (or a gap, see the class): its number is the baseline.
   */
  heard(origin: string, seq: number, next: boolean, now: number): Heard {
    let sender = this.#young.get(origin);
    if (sender === undefined) {
      sender = this.#old.get(origin);
      if (sender === undefined) {
        this.#keep(origin, { seq }, now);
        return now < this.#doubtUntil ? 'gap' : 'in order';
      }
      this.#old.delete(origin);
      this.#keep(origin, sender, now);
    }
    const expected = next ? sender.seq + 1 : sender.seq;
    if (seq > sender.seq) sender.seq = seq;
    return seq > expected ? 'gap' : seq < expected ? 'duplicate' : 'in order';
  }

  /** Forgets the senders silent for `maxAge` or more, once the young generation is that old. */
  expire(now: number): void {
    if (now - this.#since >= this.#maxAge) this.#turn(now);
  }

  /**
   * Forgets every sender: after messages may have been missed, the numbers heard before are no baseline
   * (the memory flush that follows covers what was lost).
   */
  forgetAll(): void {
    this.#young.clear();
    this.#old.clear();
  }

  /** Senders remembered now. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  #keep(origin: string, sender: Sender, now: number): void {
    if (this.#young.size >= this.#half) this.#turn(now);
    this.#young.set(origin, sender);
  }

  /** The young generation turns old; the old one, heard from by nobody since it turned, is forgotten. */
  #turn(now: number): void {
    const forgotten = this.#old.size;
    // The old senders were last heard before the young generation began.
    if (now - this.#since >= this.#maxAge) this.expired += forgotten;
    else if (forgotten > 0) {
      this.evicted += forgotten;
      this.#doubtUntil = now + this.#maxAge;
    }
    this.#old = this.#young;
    this.#young = new Map();
    this.#since = now;
  }
}
