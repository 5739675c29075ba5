/**
 * Sharding with discord.js's own ShardingManager. With more gateway shards than SHARDS_PER_PROCESS,
 * `npm start` is a manager that runs one child process per group of shards (each a whole bot: its own
 * client, services and HTTP server on PORT + index) and nothing else; the children share the store and
 * the Redis coordination, so per-user work (schedules, catch-up, DMs) runs once among them, while Discord
 * sends each server's events, interactions included, only to the process of that server's shard.
 *
 * The manager's Shard objects stand for processes here: Shard `i` is process `i`, and its environment
 * says which gateway shards it runs (SHARDS as a JSON list, SHARD_COUNT the total; discord.js's Client
 * reads both as its `shards` and `shardCount`, and `src/config.ts` reads them as `shardProcess`).
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { REST, Routes, ShardingManager, type RESTGetAPIGatewayBotResult, type Shard } from 'discord.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';

/** Discord allows `max_concurrency` identifies per 5 s; discord.js's own spawn waits 5.5 s between processes. */
const IDENTIFY_SPACING_MS = 5_500;
/** A child that dies is started again after this, doubling each time it dies again within a minute (a crash loop). */
const RESPAWN_DELAY_MS = 5_000;
const RESPAWN_DELAY_MAX_MS = 300_000;
/** A child drains its commands for up to 30 s before it closes; after this it is killed. */
const CHILD_STOP_MS = 45_000;
/** How long a child may take to become ready before the next one is started anyway. */
const READY_TIMEOUT_MS = 60_000;

export interface GatewayAdvice {
  shards: number;
  maxConcurrency: number;
}

/** Discord's recommended shard count and identify concurrency (GET /gateway/bot), from DISCORD_API_URL. */
export async function gatewayAdvice(config: Pick<Config, 'discordApiUrl' | 'discordToken'>): Promise<GatewayAdvice> {
  const rest = new REST({ api: config.discordApiUrl, version: '10', timeout: 15_000 }).setToken(config.discordToken ?? '');
  const answer = (await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult;
  const whole = (value: unknown, max: number) => (Number.isInteger(value) && (value as number) >= 1 ? Math.min(value as number, max) : 1);
  return { shards: whole(answer.shards, 10_000), maxConcurrency: whole(answer.session_start_limit?.max_concurrency, 1_000) };
}

export interface ShardManagerOptions {
  config: Config;
  logger: Logger;
  /** The gateway shards of each process, from `shardLayout`. */
  processes: number[][];
  total: number;
  maxConcurrency: number;
}

export interface RunningManager {
  /** Settles once every child was started and became ready (or failed to: logged). */
  started: Promise<void>;
  /** Stops every child (each runs its own graceful stop; one still starting is not started); true when all
   *  of them stopped cleanly. */
  stop(): Promise<boolean>;
}

/** Starts the children as fast as Discord's identify limit allows, and keeps them running. */
export function runShardManager(options: ShardManagerOptions): RunningManager {
  const { config, logger, processes, total } = options;
  const manager = new ShardingManager(fileURLToPath(new URL('../cli.js', import.meta.url)), {
    token: config.discordToken,
    totalShards: processes.length,
    shardList: processes.map((_, index) => index),
    mode: 'process',
    // Respawned here, with a delay: discord.js's own respawn is immediate, which turns a crash loop into a busy loop.
    respawn: false,
    shardArgs: ['start'],
    execArgv: process.execArgv,
  });
  let stopping = false;
  /** Per process: how many times in a row it died within a minute of starting, and the timer that starts it again. */
  const respawns = new Map<number, { quickDeaths: number; timer?: NodeJS.Timeout }>();

  const start = async (shard: Shard): Promise<void> => {
    const spawnedAt = Date.now();
    shard.once('death', (child) => {
      if (stopping) return;
      const entry = respawns.get(shard.id) ?? { quickDeaths: 0 };
      entry.quickDeaths = Date.now() - spawnedAt < 60_000 ? entry.quickDeaths + 1 : 1;
      const delayMs = Math.min(RESPAWN_DELAY_MS * 2 ** (entry.quickDeaths - 1), RESPAWN_DELAY_MAX_MS);
      logger.error({ process: shard.id, shards: processes[shard.id], ...('signalCode' in child ? { code: child.exitCode, signal: child.signalCode } : {}), respawn_in_ms: delayMs }, 'shard process died; its servers are unanswered until it is back');
      entry.timer = setTimeout(() => void (stopping ? undefined : start(shard)), delayMs);
      respawns.set(shard.id, entry);
    });
    try {
      await shard.spawn(READY_TIMEOUT_MS);
      logger.info({ process: shard.id, pid: shard.process?.pid, shards: processes[shard.id] }, 'shard process ready');
    } catch (error) {
      logger.error({ err: error, process: shard.id }, 'shard process did not become ready');
    }
  };

  logger.info({ total, processes: processes.length, shards_per_process: config.shardsPerProcess }, 'starting the shard manager');
  const create = (index: number): Shard => {
    const shard = manager.createShard(index);
    Object.assign(shard.env as Record<string, string>, { SHARDS: JSON.stringify(processes[index]), SHARD_COUNT: String(total) });
    return shard;
  };
  const started = (async () => {
    if (options.maxConcurrency >= total) {
      // Every shard may identify at once: the children start side by side (2 children: ready in about half the time).
      await Promise.all(processes.map((_, index) => start(create(index))));
      return;
    }
    // One after the other, each ready before the next, spaced as Discord's identify limit asks.
    for (const index of processes.keys()) {
      if (stopping) return;
      await Promise.all([start(create(index)), index < processes.length - 1 ? sleep(IDENTIFY_SPACING_MS) : undefined]);
    }
  })();

  return {
    started,
    async stop() {
      stopping = true;
      for (const { timer } of respawns.values()) clearTimeout(timer);
      const results = await Promise.all(
        [...manager.shards.values()].map(async (shard) => {
          const child = shard.process;
          if (!child || child.exitCode !== null || child.signalCode !== null) return true;
          const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
          shard.kill(); // SIGTERM: the child's own graceful stop
          const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_MS);
          const [code, signal] = await exited;
          clearTimeout(killer);
          // Ended by that SIGTERM itself: still loading, before its handler was there, so it had nothing to drain.
          return code === 0 || signal === 'SIGTERM';
        }),
      );
      return results.every(Boolean);
    },
  };
}
