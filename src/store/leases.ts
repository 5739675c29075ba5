/**
 * Named, expiring leases in the store itself, for `Store.locked`: whoever holds `name` may read, change
 * and write the records it guards; a lease that is not released (its process died) expires after its
 * ttl. Each lease carries a random token and is released only by its holder (compare-and-delete).
 *
 * - Redis: `SET key token NX PX ttl`, released by a Lua compare-and-delete.
 * - PostgreSQL and SQLite: a row per lease, taken with one atomic `INSERT … ON CONFLICT DO UPDATE … WHERE
 *   expired RETURNING`, so two processes can never both see themselves as the holder. PostgreSQL's expiry
 *   uses the server's clock; SQLite's processes share one machine, hence one clock.
 */
import type { Pool } from 'pg';
import type { SqliteConnection } from './sqlite.js';

export interface Leases {
  /** True when this token now holds the lease. */
  acquire(name: string, token: string, ttlMs: number): Promise<boolean>;
  release(name: string, token: string): Promise<void>;
  close(): Promise<void>;
}

type RedisLike = {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
};

export type LeaseBackend =
  | { kind: 'redis'; client: RedisLike }
  | { kind: 'postgres'; pool: Pool }
  | { kind: 'sqlite'; connection: SqliteConnection };

const REDIS_PREFIX = 'avatar-bot:lock:';
const COMPARE_AND_DELETE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/** Also holds the run coordination's leases on PostgreSQL (src/coordination/postgres.ts), named `run:…`. */
export const LEASE_TABLE = 'avatar_bot_locks';
const TABLE = LEASE_TABLE;

/**
 * Runs `statements` (CREATE … IF NOT EXISTS) once, on first use, so that opening the store does not need the
 * server (it may be down); a failure is tried again on the next use.
 */
export function createdOnFirstUse(pool: Pick<Pool, 'query'>, statements: string[]): () => Promise<unknown> {
  let ready: Promise<unknown> | undefined;
  return () =>
    (ready ??= (async () => {
      for (const statement of statements) {
        await pool.query(statement).catch((error: unknown) => {
          // Two processes creating the same table at once: the loser gets a unique violation on pg_type.
          if ((error as { code?: string }).code !== '23505') throw error;
        });
      }
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    }));
}

export async function createLeases(backend: LeaseBackend): Promise<Leases> {
  switch (backend.kind) {
    case 'redis': {
      const { client } = backend;
      return {
        acquire: async (name, token, ttlMs) => (await client.set(REDIS_PREFIX + name, token, { NX: true, PX: ttlMs })) === 'OK',
        release: async (name, token) => void (await client.eval(COMPARE_AND_DELETE, { keys: [REDIS_PREFIX + name], arguments: [token] })),
        close: async () => undefined,
      };
    }
    case 'postgres': {
      const { pool } = backend;
      const table = createdOnFirstUse(pool, [`CREATE TABLE IF NOT EXISTS ${TABLE} (name VARCHAR(255) PRIMARY KEY, token TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)`]);
      return {
        async acquire(name, token, ttlMs) {
          await table();
          const { rows } = await pool.query(
            `INSERT INTO ${TABLE} (name, token, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
             ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
             WHERE ${TABLE}.expires_at < clock_timestamp()
             RETURNING token`,
            [name, token, ttlMs],
          );
          return rows.length === 1;
        },
        async release(name, token) {
          await pool.query(`DELETE FROM ${TABLE} WHERE name = $1 AND token = $2`, [name, token]);
        },
        close: async () => undefined,
      };
    }
    case 'sqlite': {
      // The store's own connection (sqlite.ts).
      const all = (sql: string, params: unknown[]) => backend.connection.all(sql, params);
      let ready: Promise<unknown> | undefined;
      const table = () =>
        (ready ??= all(`CREATE TABLE IF NOT EXISTS ${TABLE} (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at INTEGER NOT NULL)`, []).catch((error: unknown) => {
          ready = undefined;
          throw error;
        }));
      return {
        async acquire(name, token, ttlMs) {
          await table();
          const now = Date.now();
          const rows = await all(
            `INSERT INTO ${TABLE} (name, token, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
             WHERE ${TABLE}.expires_at < ?
             RETURNING token`,
            [name, token, now + ttlMs, now],
          );
          return rows.length === 1;
        },
        async release(name, token) {
          await all(`DELETE FROM ${TABLE} WHERE name = ? AND token = ?`, [name, token]);
        },
        close: async () => undefined, // the connection is the store's
      };
    }
  }
}
