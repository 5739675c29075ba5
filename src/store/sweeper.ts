/**
 * Deletes expired entries (previews, pending sign-in links) from SQLite and PostgreSQL, where keyv only
 * enforces a TTL when the key is read: 12 unread previews left 10.3 MB in the file 16 minutes later.
 * Redis expires keys itself, so there the sweeper does nothing.
 *
 * Not keyv's iterator: keyv 5's iterator does delete the expired entries it meets, but it reads every
 * value (pages of 1000 rows, and a preview row is up to ~1 MB) and on SQLite it pages with OFFSET, so
 * its own deletions shift the pages and it skips rows. The database is asked for expired keys instead,
 * comparing the `expires` that keyv writes into each value, at most `batchSize` rows per statement and
 * `maxBatches` statements per namespace per sweep, so one sweep's work is bounded; what is left waits
 * for the next sweep.
 */
import type { Logger } from '../log.js';
import type { Store } from './backend.js';

export const SWEEP_INTERVAL_MS = 5 * 60_000;
const BATCH_SIZE = 200;
const MAX_BATCHES = 10;

export interface Sweeper {
  /** One pass over every namespace; how many expired entries each lost. */
  sweep(): Promise<Record<string, number>>;
  /** Sweep every interval until stop(). */
  start(): void;
  /** Stop the timer and wait for a sweep in progress. */
  stop(): Promise<void>;
}

export interface SweeperOptions {
  store: Store;
  /** The namespaces whose entries carry a TTL. */
  namespaces: string[];
  logger: Logger;
  intervalMs?: number;
  batchSize?: number;
  maxBatches?: number;
  /** What "now" is when deciding expiry (tests move it forward). */
  clock?: { now(): number };
}

/** The SQL adapter behind a keyv namespace (ours for SQLite, sqlite.ts, and @keyv/postgres share this much). */
interface SqlAdapter {
  query(sql: string, values?: unknown[]): Promise<Array<{ key: string }>>;
  opts: { table: string; schema?: string };
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, '\\$&');

export function createSweeper(options: SweeperOptions): Sweeper {
  const { store, logger } = options;
  const intervalMs = options.intervalMs ?? SWEEP_INTERVAL_MS;
  const batchSize = options.batchSize ?? BATCH_SIZE;
  const maxBatches = options.maxBatches ?? MAX_BATCHES;
  const clock = options.clock ?? { now: () => Date.now() };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  /** One bounded DELETE of expired rows of a namespace; returns how many went. */
  function deleteBatch(name: string, now: number): Promise<Array<{ key: string }>> {
    const adapter = store.namespace(name).store as SqlAdapter;
    const pattern = `${escapeLike(name)}:%`;
    if (store.kind === 'sqlite') {
      const table = adapter.opts.table;
      return adapter.query(
        `DELETE FROM ${table} WHERE key IN (SELECT key FROM ${table} WHERE key LIKE ? ESCAPE '\\' AND json_valid(value) AND json_extract(value, '$.expires') < ? LIMIT ?) RETURNING key`,
        [pattern, now, batchSize],
      );
    }
    const table = `"${adapter.opts.schema ?? 'public'}"."${adapter.opts.table}"`;
    // CASE fixes the order: a value that is not keyv's JSON is never cast (the cast would fail the sweep).
    return adapter.query(
      `DELETE FROM ${table} WHERE key IN (SELECT key FROM ${table} WHERE key LIKE $1 AND CASE WHEN value ~ '"expires":[0-9]' THEN (value::jsonb->>'expires')::bigint < $2 ELSE false END LIMIT $3) RETURNING key`,
      [pattern, now, batchSize],
    );
  }

  async function sweep(): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    if (store.kind === 'redis') return deleted;
    const now = clock.now();
    for (const name of options.namespaces) {
      deleted[name] = 0;
      for (let batch = 0; batch < maxBatches; batch++) {
        const rows = await deleteBatch(name, now);
        deleted[name] += rows.length;
        if (rows.length < batchSize) break;
      }
    }
    return deleted;
  }

  const tick = () => {
    running ??= sweep()
      .then((deleted) => {
        if (Object.values(deleted).some((count) => count > 0)) logger.info({ deleted }, 'expired entries swept');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'sweeping expired entries failed; trying again at the next interval'))
      .finally(() => (running = undefined));
  };

  return {
    sweep,
    start() {
      if (timer || store.kind === 'redis') return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
