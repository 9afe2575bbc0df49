import type { Clock } from '../clock.js';

/** Where the circuit breaker stands. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What a call was let through as: a normal call while closed, or the one trial while half-open. */
export type Admission = 'closed' | 'trial';

export interface BreakerOptions {
  /** Consecutive failures or timeouts that open the breaker. */
  threshold: number;
  /** Milliseconds the breaker stays open before it lets one trial call through. */
  cooldown: number;
  clock: Clock;
  /** Called on every change of state. */
  changed(state: BreakerState): void;
}

/**
 * A circuit breaker for the store.
 *
 * Invariant: while open, no call reaches the store; after `cooldown` ms exactly one call (the trial) is
 * let through, and its outcome alone closes the breaker (success) or opens it again for another
 * cooldown (failure). Outcomes of calls let through before the breaker opened, settling late, change
 * nothing: only a closed breaker counts failures, and only the trial decides a half-open one. Bound: a
 * store that stays down costs one trial call per cooldown.
 */
export class Breaker {
  readonly #options: BreakerOptions;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #trialRunning = false;
  /** Times the breaker opened, for stats. */
  opened = 0;

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Lets a call through (saying as what), or refuses it (undefined) while open or while a trial runs. */
  admit(): Admission | undefined {
    if (this.#state === 'closed') return 'closed';
    if (this.#state === 'open') {
      if (this.#options.clock.now() - this.#openedAt < this.#options.cooldown) return undefined;
      this.#set('half-open');
    }
    if (this.#trialRunning) return undefined;
    this.#trialRunning = true;
    return 'trial';
  }

  succeeded(as: Admission): void {
    if (as === 'trial') {
      this.#trialRunning = false;
      this.#failures = 0;
      this.#set('closed');
    } else if (this.#state === 'closed') {
      this.#failures = 0;
    }
  }

  failed(as: Admission): void {
    if (as === 'trial') {
      this.#trialRunning = false;
      this.#open();
    } else if (this.#state === 'closed' && ++this.#failures >= this.#options.threshold) {
      this.#open();
    }
  }

  #open(): void {
    this.#openedAt = this.#options.clock.now();
    this.#failures = 0;
    this.opened++;
    this.#set('open');
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.changed(state);
  }
}
