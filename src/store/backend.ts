/**
 * One keyv factory for every kind of store the bot supports, chosen by STORE_URL:
 * SQLite (embedded default, one process), Redis or PostgreSQL (several processes).
 * Each concern gets its own namespace; values are plain JSON.
 *
 * Every operation has a deadline: a store that hangs or fails becomes StoreError('unreachable') within
 * STORE_TIMEOUT_MS instead of a command that never answers, and the drivers reconnect by themselves
 * (Redis: bounded backoff and no offline queue; PostgreSQL: a pool with connect and query timeouts and an
 * 'error' listener, since an unheard pool 'error' after a server restart killed the process).
 * `locked` serialises read-modify-writes of one record across every process sharing the store.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Keyv from 'keyv';
import { UserFacingError } from '../errors.js';
import { createKeyedLock } from '../coordination/keyed-lock.js';
import type { Logger } from '../log.js';
import { createLeases, type Leases } from './leases.js';
import { openSqlite, SharedSqliteAdapter } from './sqlite.js';

export type StoreKind = 'sqlite' | 'redis' | 'postgres';

/** 'unreachable': the store failed or did not answer in time; 'busy': a record stayed locked by another change too long. */
export const STORE_ERROR_KINDS = ['unreachable', 'busy', 'unsupported'] as const;
export class StoreError extends UserFacingError<(typeof STORE_ERROR_KINDS)[number]> {}

/** How long one store operation may take. 3 s: a healthy store answers in milliseconds, and a command makes
 *  its first store call within a second of arriving, so a dead store is reported well inside 5 s. */
export const STORE_TIMEOUT_MS = 3_000;
/** How long `locked` waits for another change of the same record before giving up. */
export const LOCK_WAIT_MS = 4_000;
/** A lock's lifetime: a holder that died frees it after this; the work under it is bounded by the same time. */
export const LOCK_TTL_MS = 15_000;

export interface Store {
  kind: StoreKind;
  /** A keyv for one concern (`tokens`, `history`, …). Calling it twice with one name returns the same instance. */
  namespace<Value = unknown>(name: string): Keyv<Value>;
  /**
   * Runs `work` while holding the lock `name` in this process and in every other process on this store,
   * so a read-modify-write of one record never loses a concurrent one. Throws StoreError('busy') when
   * the lock stays taken past LOCK_WAIT_MS, 'unreachable' when the store fails.
   */
  locked<T>(name: string, work: () => Promise<T>): Promise<T>;
  /**
   * Every record of a namespace, `pageSize` at a time (in key order on SQLite and PostgreSQL; on Redis in
   * scan order, about `pageSize`, and a key may come twice), each page one query with the STORE_TIMEOUT_MS
   * deadline. A value
   * that cannot be decoded comes as undefined (reading it with `get` reports the damage).
   */
  pages<Value>(name: string, pageSize?: number): AsyncGenerator<Array<[key: string, value: Value | undefined]>>;
  /** Read-only; throws a StoreError when the backend does not answer within STORE_TIMEOUT_MS. */
  ping(): Promise<void>;
  /** Bounded even when the store is down. */
  close(): Promise<void>;
}

export interface StoreOptions {
  logger?: Logger;
}

export function storeKind(url: string): StoreKind {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (scheme === 'sqlite') return 'sqlite';
  if (scheme === 'redis' || scheme === 'rediss') return 'redis';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  throw new StoreError('unsupported', { scheme });
}

export function unreachable(error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError('unreachable', {}, {
    cause: error,
    detail: error instanceof Error ? error.message : String(error),
  });
}

/** `work`, or StoreError('unreachable') when it takes longer than `ms`; its own errors pass through. */
async function beforeDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unreachable(new Error(`${what} took longer than ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined); // a late failure of abandoned work is not an unhandled rejection
  }
}

/** A store call: StoreError('unreachable') when it fails or takes longer than `ms`. */
export async function withDeadline<T>(work: Promise<T>, ms = STORE_TIMEOUT_MS, what = 'store operation'): Promise<T> {
  try {
    return await beforeDeadline(work, ms, what);
  } catch (error) {
    // A stored value that is not JSON any more is a damaged record, not an unreachable store: it stays
    // an internal error (logged), and the user is not told to wait for the database.
    if (error instanceof SyntaxError) throw error;
    throw unreachable(error);
  }
}

/** Redis client options shared by the store and the schedule coordination. */
export function redisClientOptions(url: string) {
  return {
    url,
    // Without this a command issued while Redis is down waits in memory until it comes back: the hang.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: STORE_TIMEOUT_MS,
      // Reconnect for ever, 100 ms doubling to at most 2 s apart, so the bot recovers by itself.
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000),
    },
  };
}

/** `sqlite://data/x.sqlite` → an absolute path, with its directory created. */
function sqlitePath(url: string): string {
  const path = resolve(url.replace(/^sqlite:\/\//i, ''));
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/** Records per page when listing a namespace: a page of 1,000 schedule records is about 300 KB. */
export const LIST_PAGE_SIZE = 1000;

/** A page of a namespace's stored (still encoded) values after `cursor`, and where the next page starts. */
type ListPage = { entries: Array<[key: string, raw: string]>; next: string | undefined };

interface Backend {
  createAdapter(): object;
  /** `adapter` is one made by createAdapter for `namespace`; `cursor` undefined means the first page. */
  listPage(adapter: object, namespace: string, cursor: string | undefined, limit: number): Promise<ListPage>;
  leases: Leases;
  close(): Promise<void>;
}

/** Load the driver for this kind once; each namespace then gets its own adapter on the shared connection(s). */
async function openBackend(kind: StoreKind, url: string, logger: Logger | undefined): Promise<Backend> {
  const warn = (what: string) => (error: unknown) => logger?.warn({ err: error }, what);
  switch (kind) {
    case 'sqlite': {
      // A write waits for another process's lock a little less than the deadline, so a write that timed out
      // really did not happen (it fails at SQLite too) instead of landing later.
      const connection = await openSqlite(sqlitePath(url), STORE_TIMEOUT_MS - 500);
      const leases = await createLeases({ kind: 'sqlite', connection });
      return {
        // One connection for every namespace (see sqlite.ts: one per namespace slept on each other's locks).
        createAdapter: () => new SharedSqliteAdapter(connection),
        // keyv's SQLite iterator paged with `LIKE ? LIMIT ? OFFSET ?` (100,000 schedules: 34 s for the restore).
        async listPage(adapter, namespace, cursor, limit) {
          return keysetPage(await (adapter as SharedSqliteAdapter).page(namespace, cursor, limit), `${namespace}:`, limit);
        },
        leases,
        close: () => connection.close(),
      };
    }
    case 'redis': {
      const { default: KeyvRedis, createClient } = await import('@keyv/redis');
      const client = createClient(redisClientOptions(url));
      client.on('error', warn('redis store error'));
      // Every namespace's adapter listens to the shared client's connection events: one listener each.
      client.setMaxListeners(0);
      try {
        await withDeadline(client.connect(), STORE_TIMEOUT_MS, 'connecting to Redis');
      } catch (error) {
        client.destroy();
        throw error;
      }
      const leases = await createLeases({ kind: 'redis', client });
      class SharedKeyvRedis extends KeyvRedis<unknown> {
        override async disconnect() {} // the client is closed once, by the store
      }
      return {
        // One connection for every namespace (keyv would otherwise open one per namespace).
        createAdapter: () => new SharedKeyvRedis(client, { throwOnConnectError: true, throwOnErrors: true }),
        // Not keyv's iterator: its SCAN asks for 10 keys at a time (10,000 round trips for 100,000 records).
        async listPage(adapter, namespace, cursor, limit) {
          // Stored as `<namespace>::<namespace>:<key>` (the adapter's prefix, then keyv's).
          const prefix = (adapter as SharedKeyvRedis).createKeyPrefix(`${namespace}:`, namespace);
          const scanned = await client.scan(cursor ?? '0', { MATCH: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, COUNT: limit, TYPE: 'string' });
          const values = scanned.keys.length > 0 ? await client.mGet(scanned.keys) : [];
          const entries: Array<[string, string]> = [];
          scanned.keys.forEach((key, index) => {
            const value = values[index];
            if (typeof value === 'string') entries.push([key.slice(prefix.length), value]); // deleted since the scan: skipped
          });
          const next = String(scanned.cursor);
          return { entries, next: next === '0' ? undefined : next };
        },
        leases,
        async close() {
          await withDeadline(client.close(), STORE_TIMEOUT_MS, 'closing Redis').catch(() => client.destroy());
        },
      };
    }
    case 'postgres': {
      const { default: KeyvPostgres } = await import('@keyv/postgres');
      const { default: pg } = await import('pg');
      // Our own pool instead of @keyv/postgres's hidden one, so that its 'error' events are heard and its
      // waits are bounded; idle connections broken by a restart are dropped and replaced on next use.
      const pool = new pg.Pool({
        connectionString: url,
        max: 10,
        connectionTimeoutMillis: STORE_TIMEOUT_MS,
        query_timeout: STORE_TIMEOUT_MS,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
      });
      pool.on('error', warn('postgres pool error'));
      class PooledKeyvPostgres extends KeyvPostgres {
        override async connect() {
          return async (sql: string, values?: unknown[]) => (await pool.query(sql, values)).rows;
        }
        override async disconnect() {} // the pool is closed once, by the store
      }
      const leases = await createLeases({ kind: 'postgres', pool });
      return {
        createAdapter: () => new PooledKeyvPostgres({ uri: url }),
        // Not keyv's iterator: it ends the listing without a word when a page's query fails.
        async listPage(adapter, namespace, cursor, limit) {
          const { opts } = adapter as PooledKeyvPostgres;
          const table = `${opts.schema}.${opts.table}`; // as the adapter names it (our defaults: public.keyv)
          const prefix = `${namespace}:`;
          const pattern = `${prefix.replace(/[%_\\]/g, '\\$&')}%`;
          const { rows } =
            cursor === undefined
              ? await pool.query<{ key: string; value: string }>(`SELECT key, value FROM ${table} WHERE key LIKE $1 ORDER BY key LIMIT $2`, [pattern, limit])
              : await pool.query<{ key: string; value: string }>(`SELECT key, value FROM ${table} WHERE key LIKE $1 AND key > $2 ORDER BY key LIMIT $3`, [pattern, cursor, limit]);
          return keysetPage(rows, prefix, limit);
        },
        leases,
        async close() {
          await withDeadline(pool.end(), STORE_TIMEOUT_MS, 'closing PostgreSQL').catch(warn('postgres pool did not close in time'));
        },
      };
    }
  }
}

/**
 * A stored value as keyv's default serializer (@keyv/serialize, which every namespace here uses) reads
 * it back: JSON in which a string starting with ':' was escaped (':base64:…' is a Buffer, '::…' a string
 * starting with ':'). Parsed plainly, then unescaped in one walk: 2.5 times as fast as its reviver
 * (100,000 schedule records: 0.6 s against 1.4-1.8 s). Throws SyntaxError when the text is not JSON.
 */
function decodeStored(encoded: string): { value?: unknown; expires?: number } | undefined {
  const unescape = (value: unknown): unknown => {
    if (typeof value === 'string') return value.startsWith(':base64:') ? Buffer.from(value.slice(8), 'base64') : value.startsWith(':') ? value.slice(1) : value;
    if (Array.isArray(value)) for (let index = 0; index < value.length; index++) value[index] = unescape(value[index]);
    else if (value !== null && typeof value === 'object') for (const key of Object.keys(value)) (value as Record<string, unknown>)[key] = unescape((value as Record<string, unknown>)[key]);
    return value;
  };
  return unescape(JSON.parse(encoded)) as { value?: unknown; expires?: number } | undefined;
}

/** A page read in key order: the next one starts after its last key; a short page is the last. */
function keysetPage(rows: Array<{ key: string; value: string }>, prefix: string, limit: number): ListPage {
  return {
    entries: rows.map((row) => [row.key.slice(prefix.length), row.value]),
    next: rows.length < limit ? undefined : rows.at(-1)?.key,
  };
}

const BOUNDED_METHODS = new Set(['get', 'getMany', 'set', 'setMany', 'delete', 'deleteMany', 'has', 'hasMany', 'clear']);

async function* boundedIterator<T>(inner: AsyncIterator<T>): AsyncGenerator<T> {
  try {
    for (;;) {
      const step = await withDeadline(inner.next(), STORE_TIMEOUT_MS, 'listing keys');
      if (step.done) return;
      yield step.value;
    }
  } finally {
    void inner.return?.()?.catch(() => undefined);
  }
}

/** The keyv with a deadline on every operation and every failure turned into StoreError('unreachable'). */
function bounded<Value>(keyv: Keyv<Value>, name: string): Keyv<Value> {
  return new Proxy(keyv, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && BOUNDED_METHODS.has(property)) {
        return (...args: unknown[]) => withDeadline(Promise.resolve().then(() => value.apply(target, args)), STORE_TIMEOUT_MS, `${name}.${property}`);
      }
      if (property === 'iterator') return (...args: unknown[]) => boundedIterator(value.apply(target, args) as AsyncIterator<unknown>);
      return value.bind(target);
    },
  });
}

export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const kind = storeKind(url);
  const backend = await openBackend(kind, url, options.logger);
  const namespaces = new Map<string, { raw: Keyv<any>; bounded: Keyv<any> }>();
  // In-process first, so that changes made by this process queue here instead of polling the store.
  const local = createKeyedLock();

  function namespace<Value>(name: string): Keyv<Value> {
    let entry = namespaces.get(name);
    if (!entry) {
      const raw = new Keyv<Value>({ store: backend.createAdapter(), namespace: name, throwOnErrors: true, emitErrors: false });
      entry = { raw, bounded: bounded(raw, name) };
      namespaces.set(name, entry);
    }
    return entry.bounded as Keyv<Value>;
  }

  async function* pages<Value>(name: string, pageSize = LIST_PAGE_SIZE): AsyncGenerator<Array<[string, Value | undefined]>> {
    namespace(name);
    const { raw } = namespaces.get(name)!;
    let cursor: string | undefined;
    do {
      const page = await withDeadline(backend.listPage(raw.store as object, name, cursor, pageSize), STORE_TIMEOUT_MS, `listing ${name}`);
      const now = Date.now();
      const entries: Array<[string, Value | undefined]> = [];
      for (const [key, encoded] of page.entries) {
        let data: ReturnType<typeof decodeStored>;
        try {
          data = decodeStored(encoded);
        } catch {
          data = undefined; // damaged: listed without a value
        }
        if (data && typeof data.expires === 'number' && data.expires < now) continue; // expired: as if gone (the sweeper deletes it)
        entries.push([key, data?.value as Value | undefined]);
      }
      if (entries.length > 0) yield entries;
      cursor = page.next;
    } while (cursor !== undefined);
  }

  async function acquire(name: string, token: string): Promise<void> {
    const giveUpAt = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      if (await withDeadline(backend.leases.acquire(name, token, LOCK_TTL_MS), STORE_TIMEOUT_MS, `locking ${name}`)) return;
      // 5 ms doubling to 200 ms, with jitter so that waiting processes do not retry in step.
      const pause = Math.min(5 * 2 ** attempt, 200) * (0.5 + Math.random());
      if (Date.now() + pause > giveUpAt) {
        throw new StoreError('busy', {}, { detail: `lock ${name} held too long` });
      }
      await new Promise((done) => setTimeout(done, pause));
    }
  }

  return {
    kind,
    namespace,
    pages,
    locked(name, work) {
      return local.run(name, async () => {
        const token = randomUUID();
        await acquire(name, token);
        try {
          return await beforeDeadline(work(), LOCK_TTL_MS, `work under ${name}`);
        } finally {
          // Only our own lease is deleted; if this fails the lease expires by itself.
          await withDeadline(backend.leases.release(name, token), STORE_TIMEOUT_MS, `unlocking ${name}`).catch((error: unknown) =>
            options.logger?.warn({ err: error, lock: name }, 'could not release a store lock'),
          );
        }
      });
    },
    async ping() {
      // Read-only: a health probe must not write (and a read of a missing key is enough to prove the round trip).
      await namespace<number>('health').get('ping');
    },
    async close() {
      await Promise.allSettled([...namespaces.values()].map(({ raw }) => withDeadline(raw.disconnect(), STORE_TIMEOUT_MS, 'closing')));
      namespaces.clear();
      await backend.close();
    },
  };
}
