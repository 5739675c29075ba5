/**
 * What lets several bot processes share one set of schedules: a run coordinator (a lease per schedule
 * run: whoever takes it runs, the others skip) and a change feed (an edit in one process re-arms the
 * user's timers in every process). On Redis the lease is an atomic `SET key NX PX` and the feed is
 * pub/sub; otherwise both are in-process, which is right for SQLite's one process.
 *
 * Redis commands have the store's deadline and fail at once while Redis is down (no offline queue); the
 * clients reconnect by themselves and the subscriber subscribes again when it does.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { RunCoordinator } from 'node-cron';
import type { Logger } from '../log.js';
import { redisClientOptions, withDeadline } from '../store/backend.js';

export interface Coordination {
  coordinator: RunCoordinator;
  /** Tell every process (this one included) that a user's schedules changed. */
  publish(discordUserId: string): Promise<void>;
  subscribe(listener: (discordUserId: string) => void): void;
  /** True when several processes can share the schedules safely. */
  distributed: boolean;
  close(): Promise<void>;
}

const CHANNEL = 'avatar-bot:schedules-changed';
const KEY_PREFIX = 'avatar-bot:lease:';

export function localCoordination(): Coordination {
  const leases = new Map<string, number>();
  const feed = new EventEmitter();
  return {
    distributed: false,
    coordinator: {
      shouldRun(key, ttlMs) {
        const now = Date.now();
        for (const [lease, expires] of leases) if (expires <= now) leases.delete(lease);
        if (leases.has(key)) return false;
        leases.set(key, now + ttlMs);
        return true;
      },
    },
    async publish(discordUserId) {
      feed.emit('change', discordUserId);
    },
    subscribe(listener) {
      feed.on('change', listener);
    },
    async close() {
      feed.removeAllListeners();
    },
  };
}

export async function redisCoordination(url: string, logger: Logger): Promise<Coordination> {
  const { createClient } = await import('@keyv/redis');
  const commands = createClient(redisClientOptions(url));
  const subscriber = commands.duplicate();
  const onError = (error: unknown) => logger.warn({ err: error }, 'redis coordination error');
  commands.on('error', onError);
  subscriber.on('error', onError);
  const closeAll = () => Promise.allSettled([subscriber, commands].map((client) => withDeadline(client.close(), undefined, 'closing Redis').catch(() => client.destroy())));
  const origin = randomUUID();
  const listeners: Array<(discordUserId: string) => void> = [];
  try {
    await withDeadline(Promise.all([commands.connect(), subscriber.connect()]), undefined, 'connecting to Redis');
    // node-redis keeps this subscription and renews it on every reconnect.
    await withDeadline(
      subscriber.subscribe(CHANNEL, (message) => {
        const { userId } = JSON.parse(message) as { userId: string; origin: string };
        for (const listener of listeners) listener(userId);
      }),
      undefined,
      'subscribing',
    );
  } catch (error) {
    await closeAll();
    throw error;
  }
  return {
    distributed: true,
    coordinator: {
      async shouldRun(key, ttlMs) {
        const taken = await withDeadline(commands.set(`${KEY_PREFIX}${key}`, origin, { NX: true, PX: Math.max(1, Math.round(ttlMs)) }), undefined, 'taking a lease');
        return taken === 'OK';
      },
    },
    async publish(discordUserId) {
      await withDeadline(commands.publish(CHANNEL, JSON.stringify({ userId: discordUserId, origin })), undefined, 'publishing a change');
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    async close() {
      await closeAll();
    },
  };
}
