interface Sender {
  seq: number;
  seenAt: number;
}

/**
 * The last sequence number of every sender heard from, to notice lost messages.
 *
 * Every invalidation carries its sender's next number (1, 2, 3, ... with no gaps) and every heartbeat
 * its last one, so a number beyond the expected one means messages were lost (a gap). The first number
 * heard from a sender is its baseline: what it sent before concerns writes that landed before memory
 * here could hold anything of theirs. Older numbers are duplicates (a command resent after a
 * reconnect): harmless, and the number never moves back. A sender silent for `maxAge` is forgotten:
 * live senders heartbeat every interval, so it is gone (or restarted under a new id). Senders are kept
 * in the order last heard, so forgetting by age looks only at the senders it forgets. No I/O.
 */
export class Senders {
  readonly #maxAge: number;
  /** Least recently heard first: every message moves its sender to the end. */
  readonly #senders = new Map<string, Sender>();

  constructor(maxAge: number) {
    this.#maxAge = maxAge;
  }

  /**
   * Records number `seq` from `origin` heard at `now` (`next`: an invalidation, which takes the next
   * number; else a heartbeat, which repeats the last). True when messages from `origin` were lost.
   */
  heard(origin: string, seq: number, next: boolean, now: number): boolean {
    const sender = this.#senders.get(origin);
    if (sender === undefined) {
      this.#senders.set(origin, { seq, seenAt: now });
      return false;
    }
    this.#senders.delete(origin);
    this.#senders.set(origin, sender);
    sender.seenAt = now;
    const expected = next ? sender.seq + 1 : sender.seq;
    if (seq > sender.seq) sender.seq = seq;
    return seq > expected;
  }

  /** Forgets the senders silent for longer than `maxAge`. */
  expire(now: number): void {
    const limit = now - this.#maxAge;
    for (const [origin, sender] of this.#senders) {
      if (sender.seenAt >= limit) return;
      this.#senders.delete(origin);
    }
  }

  /**
   * Forgets every sender: after messages may have been missed, the numbers heard before are no baseline
   * (the memory flush that follows covers what was lost).
   */
  forgetAll(): void {
    this.#senders.clear();
  }

  /** Senders remembered now. */
  get size(): number {
    return this.#senders.size;
  }
}
