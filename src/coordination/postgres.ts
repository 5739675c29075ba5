/**
 * The run coordination (./runs.ts) on PostgreSQL, so several bot processes can share one database:
 *
 * - Runs: a lease row per key in the store's lease table (src/store/leases.ts: one atomic `INSERT … ON
 *   CONFLICT … WHERE expired RETURNING`, expiry by the server's clock), named `run:<key>` and never
 *   released, like Redis's `SET NX PX`. Expired run leases are deleted every few minutes.
 * - The change feed: `pg_notify` on one channel, heard by `LISTEN` on one dedicated connection per process
 *   (the payload is the user id, at most 64 characters). A NOTIFY sent while that connection is down is
 *   lost, so each change is also written to a short log table (kept an hour) in the same statement: after
 *   a reconnect the listener LISTENs again, then replays the users changed since its connection was last
 *   seen alive (a heartbeat every few seconds, minus a margin), so an edit made meanwhile still re-arms
 *   this process's timers. A user may be synced twice; a sync only reads their record and re-plans.
 *
 * Every query has the store's deadline (STORE_TIMEOUT_MS) and fails at once while PostgreSQL is down
 * (connection refused); the listener reconnects with backoff (100 ms doubling to 2 s), like Redis's.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Client, Pool } from 'pg';
import type { Logger } from '../log.js';
import { STORE_TIMEOUT_MS, withDeadline } from '../store/backend.js';
import { createdOnFirstUse, createLeases, LEASE_TABLE } from '../store/leases.js';
import type { Coordination } from './runs.js';

const CHANNEL = 'avatar_bot_schedules_changed';
const FEED_TABLE = 'avatar_bot_schedule_changes';
/** Discord ids are 17-20 digits; anything longer is not one of ours (NOTIFY itself takes 8,000 bytes). */
const MAX_USER_ID = 64;
/** Changes kept for a listener's replay: longer than any reconnect while the database itself answers. */
const FEED_KEEP = "interval '1 hour'";
/** How far before the listener's last sign of life a replay starts: a publish's row time is taken a moment
 *  before its commit, and the heartbeat's answer travels a moment after the server read its clock. */
const REPLAY_MARGIN = "interval '5 seconds'";
/** Users replayed at most after one reconnect (a row each, distinct users). */
const REPLAY_LIMIT = 10_000;

export interface PostgresCoordinationOptions {
  /** How often the listening connection is checked (and its last sign of life noted). Default 5 s. */
  heartbeatMs?: number;
  /** How often expired run leases and old feed rows are deleted. Default 10 minutes. */
  pruneEveryMs?: number;
  /** The first wait before listening again after the connection dropped (then doubling to 2 s). Default 100 ms. */
  firstRetryMs?: number;
}

export interface PostgresCoordination extends Coordination {
  /** The server process of the listening connection; undefined while it is down (for operators and tests). */
  readonly listenerPid: number | undefined;
}

export async function postgresCoordination(url: string, logger: Logger, options: PostgresCoordinationOptions = {}): Promise<PostgresCoordination> {
  const { default: pg } = await import('pg');
  const connection = { connectionString: url, connectionTimeoutMillis: STORE_TIMEOUT_MS, query_timeout: STORE_TIMEOUT_MS, keepAlive: true };
  // Leases and publishes: short queries, but a wave asks for two leases a change in every process (node-cron's
  // run and the transition's): with 3 connections, 1,000 changes due over 10 s waited past the store's deadline
  // for a connection (bench scale: fire lateness p99 14 s, 38 runs failed). As many as the store's pool.
  const pool = new pg.Pool({ ...connection, max: 10, idleTimeoutMillis: 30_000 });
  pool.on('error', (error: unknown) => logger.warn({ err: error }, 'postgres coordination pool error'));
  const leases = await createLeases({ kind: 'postgres', pool });
  const feedTable = createdOnFirstUse(pool, [
    `CREATE TABLE IF NOT EXISTS ${FEED_TABLE} (seq BIGSERIAL PRIMARY KEY, user_id VARCHAR(${MAX_USER_ID}) NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())`,
    `CREATE INDEX IF NOT EXISTS ${FEED_TABLE}_at ON ${FEED_TABLE} (at)`,
  ]);
  const origin = randomUUID();
  const listeners: Array<(discordUserId: string) => void> = [];
  const deliver = (discordUserId: string) => {
    for (const listener of listeners) listener(discordUserId);
  };

  let closed = false;
  let listening: Client | undefined;
  /** The server's clock when the listening connection last answered: a replay starts there. */
  let lastAlive: Date | undefined;
  let retries = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  async function listen(): Promise<void> {
    const client = new pg.Client(connection);
    const lost = (error?: unknown) => {
      if (client !== listening) return;
      listening = undefined;
      logger.warn({ err: error }, 'postgres change feed connection lost; listening again');
      void client.end().catch(() => undefined);
      scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload && message.payload.length <= MAX_USER_ID) deliver(message.payload);
    });
    try {
      await withDeadline(client.connect(), undefined, 'connecting the change feed');
      await withDeadline(feedTable(), undefined, 'creating the change table');
      await withDeadline(client.query(`LISTEN ${CHANNEL}`), undefined, 'listening for changes');
      const since = lastAlive;
      const { rows } = await withDeadline(client.query<{ now: Date }>('SELECT clock_timestamp() AS now'), undefined, 'reading the clock');
      if (since) {
        // After LISTEN: a change published from here on is heard, one published before is in the log.
        const missed = await withDeadline(
          client.query<{ user_id: string }>(`SELECT DISTINCT user_id FROM ${FEED_TABLE} WHERE at >= $1::timestamptz - ${REPLAY_MARGIN} LIMIT ${REPLAY_LIMIT}`, [since]),
          undefined,
          'replaying changes',
        );
        logger.info({ users: missed.rows.length }, 'postgres change feed listening again; replayed the changes made meanwhile');
        for (const { user_id } of missed.rows) deliver(user_id);
      }
      lastAlive = rows[0]!.now;
    } catch (error) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      throw error;
    }
    if (closed) {
      void client.end().catch(() => undefined);
      return;
    }
    listening = client;
    retries = 0;
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer) return;
    const delay = Math.min((options.firstRetryMs ?? 100) * 2 ** retries, 2_000);
    retries++;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      listen().catch((error: unknown) => {
        logger.debug({ err: error, retries }, 'postgres change feed not back yet');
        scheduleReconnect();
      });
    }, delay);
    reconnectTimer.unref();
  }

  // A connection whose peer vanished (a dead host, a dropped NAT entry) says nothing until it is used.
  const heartbeat = setInterval(() => {
    const client = listening;
    if (!client) return;
    withDeadline(client.query<{ now: Date }>('SELECT clock_timestamp() AS now'), undefined, 'checking the change feed').then(
      ({ rows }) => {
        if (client === listening) lastAlive = rows[0]!.now;
      },
      (error: unknown) => client.emit('error', error),
    );
  }, options.heartbeatMs ?? 5_000);
  heartbeat.unref();

  const prune = setInterval(() => {
    void Promise.all([
      withDeadline(pool.query(`DELETE FROM ${LEASE_TABLE} WHERE name LIKE 'run:%' AND expires_at < clock_timestamp()`), undefined, 'deleting expired run leases'),
      withDeadline(feedTable().then(() => pool.query(`DELETE FROM ${FEED_TABLE} WHERE at < clock_timestamp() - ${FEED_KEEP}`)), undefined, 'deleting old changes'),
    ]).catch((error: unknown) => logger.warn({ err: error }, 'postgres coordination could not prune'));
  }, options.pruneEveryMs ?? 10 * 60_000);
  prune.unref();

  async function close(): Promise<void> {
    closed = true;
    clearInterval(heartbeat);
    clearInterval(prune);
    clearTimeout(reconnectTimer);
    const client = listening;
    listening = undefined;
    await Promise.allSettled([
      client && withDeadline(client.end(), undefined, 'closing the change feed'),
      withDeadline(pool.end(), undefined, 'closing the coordination pool'),
    ]);
  }

  try {
    await listen();
  } catch (error) {
    await close();
    throw error;
  }

  return {
    distributed: true,
    coordinator: {
      async shouldRun(key, ttlMs) {
        // The lease table's names are at most 255 characters (node-cron's keys are about 60).
        const name = key.length <= 240 ? `run:${key}` : `run:#${createHash('sha256').update(key).digest('hex')}`;
        return withDeadline(leases.acquire(name, origin, Math.max(1, Math.round(ttlMs))), undefined, 'taking a lease');
      },
    },
    async publish(discordUserId) {
      if (discordUserId.length === 0 || discordUserId.length > MAX_USER_ID) throw new RangeError(`a user id of ${discordUserId.length} characters`);
      await withDeadline(
        feedTable().then(() => pool.query(`WITH change AS (INSERT INTO ${FEED_TABLE} (user_id) VALUES ($1) RETURNING user_id) SELECT pg_notify('${CHANNEL}', user_id) FROM change`, [discordUserId])),
        undefined,
        'publishing a change',
      );
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    get listenerPid() {
      return listening?.processID ?? undefined;
    },
    close,
  };
}
