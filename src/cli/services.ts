import type { Config } from '../config.js';
import { createLogger } from '../log.js';
import { createServices, type Services } from '../services.js';
import { forTerminal } from './messages.js';

/**
 * Run one `--discord-user` command on the same Services the bot builds (the same use cases, the same
 * history, original and cleanup), without a Discord client: the scheduler's catch-up and the sweeper are
 * never started, and the unfinished changes of a running bot are left to it. Errors come out worded for
 * the terminal (messages.ts).
 */
export async function withServices<T>(config: Config, discordUserId: string, work: (services: Services) => Promise<T>): Promise<T> {
  const services = await createServices(config, createLogger({ level: config.logLevel }), { recoverChanges: false });
  // The change pipeline waits for X's processing on unref'd timers (a bot must not be kept alive by them);
  // with nothing else pending, the CLI would exit 0 after X accepted the upload, before printing its URL.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    return await work(services);
  } catch (error) {
    throw forTerminal(error, discordUserId);
  } finally {
    clearInterval(keepAlive);
    await services.close();
  }
}
