/**
 * Bounds how many async jobs run at once and, optionally, the sum of their weights (the normaliser
 * weighs each decode by the bytes it is estimated to hold). Jobs start in FIFO order, except that a
 * job that fits may start ahead of an earlier one that is waiting for weight to be released, so small
 * images keep flowing while a heavy one waits for another heavy one to finish. A waiting job lets at
 * most MAX_OVERTAKES later jobs pass it, then the queue waits for it: it cannot starve.
 */
export interface Limiter {
  /** Runs `fn` once a slot and `weight` (clamped to the capacity) are free. */
  run<T>(fn: () => Promise<T>, weight?: number): Promise<T>;
  /** Jobs running now. */
  readonly active: number;
  /** Jobs waiting for a free slot. */
  readonly queued: number;
  /** Sum of the weights of the jobs running now. */
  readonly used: number;
}

const MAX_OVERTAKES = 4;

interface Waiter {
  weight: number;
  overtaken: number;
  start: () => void;
}

export function createLimiter(max: number, capacity = Number.POSITIVE_INFINITY): Limiter {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${String(max)}`);
  }
  if (!(capacity > 0)) throw new RangeError(`capacity must be positive, got ${String(capacity)}`);
  let active = 0;
  let used = 0;
  const waiting: Waiter[] = [];

  /** Starts every waiter that fits, in order; stops at one that has been overtaken enough. */
  function pump(): void {
    const blocked: Waiter[] = [];
    for (let i = 0; i < waiting.length && active < max; ) {
      const waiter = waiting[i]!;
      if (used + waiter.weight <= capacity) {
        waiting.splice(i, 1);
        for (const earlier of blocked) earlier.overtaken += 1;
        active += 1;
        used += waiter.weight;
        waiter.start();
        continue;
      }
      if (waiter.overtaken >= MAX_OVERTAKES) return;
      blocked.push(waiter);
      i += 1;
    }
  }

  return {
    async run<T>(fn: () => Promise<T>, weight = 0): Promise<T> {
      const held = Math.min(Math.max(weight, 0), capacity);
      await new Promise<void>((resolve) => {
        waiting.push({ weight: held, overtaken: 0, start: resolve });
        pump();
      });
      try {
        return await fn();
      } finally {
        active -= 1;
        used -= held;
        pump();
      }
    },
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
    get used() {
      return used;
    },
  };
}
