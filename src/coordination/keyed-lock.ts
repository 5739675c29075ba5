/**
 * Runs tasks one at a time per key (a Discord user, a request token), in arrival order, within this
 * process. Different keys run concurrently.
 */
export interface KeyedLock {
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Tasks running or waiting, across all keys. */
  readonly pending: number;
}

export function createKeyedLock(): KeyedLock {
  const tails = new Map<string, Promise<unknown>>();
  let pending = 0;
  return {
    async run(key, task) {
      const previous = tails.get(key) ?? Promise.resolve();
      pending++;
      const current = previous.then(task, task);
      const tail = current.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      try {
        return await current;
      } finally {
        pending--;
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
    get pending() {
      return pending;
    },
  };
}
