import type { AppliedChange } from '../changes/pipeline.js';
import type { Config } from '../config.js';
import { storedReasonWords } from '../i18n/render-error.js';
import type { ProfilePart } from '../profile/parts.js';
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

/** What a change made by a `--discord-user` command left undone, as warnings (X did make the change). */
export function warnIfIncomplete(part: ProfilePart, applied: Pick<AppliedChange, 'originalNotSaved' | 'notRecorded'>): void {
  if (applied.originalNotSaved) process.stderr.write(`warning: the ${part} from before could not be saved (${storedReasonWords(applied.originalNotSaved, 'en-US')}); it cannot be reverted to.\n`);
  if (applied.notRecorded) process.stderr.write(`warning: X changed the ${part} but the store did not record it; the bot records it at its next start.\n`);
}
