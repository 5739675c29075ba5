import { commands } from '../../commands/index.js';
import { loadConfig, missingVariables, type RequirableSetting } from '../config.js';
import { createLogger } from '../log.js';
import { createBot } from '../bot/bot.js';
import { createDiscordClient, discordEdge } from '../bot/client.js';
import { createServices } from '../services.js';
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
  const client = createDiscordClient(config);
  const services = await createServices(config, logger, { edge: discordEdge(client) });
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
  await bot.start();
}
