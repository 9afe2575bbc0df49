import { randomInt } from 'node:crypto';

// A push id: `_`, then the push time, a counter and random characters, all fixed-width base-36 (digits
// and lower-case letters, so that a store whose keys compare case-insensitively keeps them apart):
//
//   _ ttttttttt cccc rrrrrr      20 characters, URL-safe
//
// Fixed width makes the string order the push order: by time first (milliseconds since the epoch, 9
// digits last until the year 5188), then, within one millisecond of one process, by the counter. Two
// processes pushing in the same millisecond are ordered by their counters and random parts, that is in
// no defined order; and hosts are ordered by their own clocks, so by up to their clock skew.

const BASE = 36;
const TIME_WIDTH = 9;
const COUNTER_WIDTH = 4;
const RANDOM_WIDTH = 6;
const COUNTER_SPACE = BASE ** COUNTER_WIDTH;
const RANDOM_SPACE = BASE ** RANDOM_WIDTH;

/** Length of a push id. */
export const PUSH_ID_LENGTH = 1 + TIME_WIDTH + COUNTER_WIDTH + RANDOM_WIDTH;

const PUSH_ID = new RegExp(`^_[0-9a-z]{${PUSH_ID_LENGTH - 1}}$`);

/** True when `key` has the shape of a push id: `peek` and `pop` consider exactly these keys. */
export function isPushId(key: string): boolean {
  return key.length === PUSH_ID_LENGTH && PUSH_ID.test(key);
}

function digits(n: number, width: number): string {
  return n.toString(BASE).padStart(width, '0');
}

/**
 * Makes push ids that increase strictly within this process: when the clock stands still or goes back
 * (an NTP step), the last time is kept and the counter goes on; when the counter is full, time moves on
 * by a millisecond. So one process's pushes pop in the reverse of their order, whatever its clock does.
 */
export class PushIds {
  readonly #now: () => number;
  readonly #random: () => number;
  #time = -1;
  #counter = 0;

  constructor(now: () => number = Date.now, random: () => number = () => randomInt(RANDOM_SPACE)) {
    this.#now = now;
    this.#random = random;
  }

  next(): string {
    const now = this.#now();
    if (now > this.#time) {
      this.#time = now;
      this.#counter = 0;
    } else if (++this.#counter === COUNTER_SPACE) {
      this.#time++;
      this.#counter = 0;
    }
    return `_${digits(this.#time, TIME_WIDTH)}${digits(this.#counter, COUNTER_WIDTH)}${digits(this.#random(), RANDOM_WIDTH)}`;
  }
}

/** The process's one generator, shared by every stash in it, so that their pushes are ordered too. */
export const pushIds = new PushIds();
