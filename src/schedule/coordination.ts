/**
 * What lets several bot processes share one set of schedules: a run coordinator (a lease per schedule
 * run: whoever takes it runs, the others skip) and a change feed (an edit in one process re-arms the
 * user's timers in every process). On Redis the lease is an atomic `SET key NX PX` and the feed is
 * pub/sub; otherwise both are in-process, which is right for SQLite's one process.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { RunCoordinator } from 'node-cron';
import type { Logger } from '../log.js';

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
  const commands = createClient({ url });
  const subscriber = commands.duplicate();
  const onError = (error: unknown) => logger.warn({ err: error }, 'redis coordination error');
  commands.on('error', onError);
  subscriber.on('error', onError);
  await Promise.all([commands.connect(), subscriber.connect()]);
  const origin = randomUUID();
  const listeners: Array<(discordUserId: string) => void> = [];
  await subscriber.subscribe(CHANNEL, (message) => {
    const { userId } = JSON.parse(message) as { userId: string; origin: string };
    for (const listener of listeners) listener(userId);
  });
  return {
    distributed: true,
    coordinator: {
      async shouldRun(key, ttlMs) {
        const taken = await commands.set(`${KEY_PREFIX}${key}`, origin, { NX: true, PX: Math.max(1, Math.round(ttlMs)) });
        return taken === 'OK';
      },
    },
    async publish(discordUserId) {
      await commands.publish(CHANNEL, JSON.stringify({ userId: discordUserId, origin }));
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    async close() {
      await Promise.allSettled([subscriber.quit(), commands.quit()]);
    },
  };
}
