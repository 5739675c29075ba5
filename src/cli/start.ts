import { loadConfig, missingVariables, shardLayout, type Config, type RequirableSetting } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import type { ShardAssignment } from '../bot/client.js';
import { gatewayAdvice, runShardManager } from '../bot/sharding.js';
import { parse, UsageError } from './args.js';

const REQUIRED: RequirableSetting[] = ['discordToken', 'discordApplicationId', 'twitterConsumerKey', 'twitterConsumerSecret', 'tokenEncryptionKey'];

export async function run(args: string[]): Promise<void> {
  parse(args, {}, []);
  const config = loadConfig();
  const missing = missingVariables(config, REQUIRED);
  if (missing.length > 0) {
    process.stderr.write(
      `avatar-bot needs these variables (put them in .env; see .env.example and README.md):\n${missing.map((line) => `  - ${line}`).join('\n')}\n` +
        'To see the bot work without any credentials, run `npm run demo`.\n',
    );
    throw new UsageError(`missing configuration: ${missing.map((line) => line.slice(0, line.indexOf(':'))).join(', ')}`);
  }
  const logger = createLogger({ level: config.logLevel });
  // A child of the shard manager: its shards were decided there.
  if (config.shardProcess) return runBot(config, logger, config.shardProcess, config.shardProcess.index);
  const advice = config.shardCount === 'auto' ? await gatewayAdvice(config) : undefined;
  const total = advice?.shards ?? (config.shardCount as number);
  const { processes } = shardLayout(config, total);
  if (processes.length === 1) return runBot(config, logger, { shards: processes[0]!, total }, 0);
  await startManager(config, logger, processes, total, (advice ?? (await gatewayAdvice(config))).maxConcurrency);
}

/** `npm start` with several processes: this process only runs the children, and stops them all on a signal. */
async function startManager(config: Config, logger: Logger, processes: number[][], total: number, maxConcurrency: number): Promise<void> {
  const manager = runShardManager({ config, logger, processes, total, maxConcurrency });
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping every shard process');
    stopping ??= manager.stop().then((clean) => {
      logger.info({ clean }, 'shard manager stopped');
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await manager.started;
}

/** One bot process: every shard (the default, one), or a manager's child with its share on PORT + index. */
async function runBot(config: Config, logger: Logger, assignment: ShardAssignment, index: number): Promise<void> {
  // Loaded here, not at the top: the shard manager runs none of it, and loading it (commands, sharp, the
  // services) took it 0.8 s of its 1.5 s start at load 5, before the first child was spawned (bench scale).
  const [{ commands }, { createBot }, { createDiscordClient, discordEdge }, { createServices }] = await Promise.all([
    import('../../commands/index.js'),
    import('../bot/bot.js'),
    import('../bot/client.js'),
    import('../services.js'),
  ]);
  const processConfig = index === 0 || config.port === 0 ? config : { ...config, port: config.port + index };
  const client = createDiscordClient(processConfig, assignment);
  const services = await createServices(processConfig, logger, { edge: discordEdge(client, processConfig) });
  await services.pingStore();
  // ready_ms and catchup_done_ms count from the process start (0 on the performance clock).
  const bot = createBot({ client, services, commands, startedAtMs: 0 });
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    stopping ??= bot.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a terminal's Ctrl-C signals the whole process group, and npm forwards the same
  // signal again, so the bot gets it twice; a second one must not fall back to Node's default (exit 130
  // mid-drain).
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A manager's child: a manager that died (kill -9) closes the IPC channel; its children stop rather than linger.
  if (config.shardProcess) process.on('disconnect', () => stop('manager gone'));
  await bot.start();
  if (assignment.total > 1) logger.info({ shards: assignment.shards, total: assignment.total, index, port: bot.http.port }, 'shards ready');
}
