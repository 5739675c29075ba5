import { loadConfig } from '../config.js';
import { discordUserOption, parse, UsageError } from './args.js';
import { withServices } from './services.js';

/** The bot's `/twitter unlink` use case: revoke at X (best effort), then delete the link and everything kept for the user. */
export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { 'discord-user': { type: 'string' } }, []);
  const discordUser = discordUserOption(values['discord-user']);
  if (discordUser === undefined) throw new UsageError('unlink needs --discord-user <id>');
  await withServices(loadConfig(), discordUser, async (services) => {
    // Read first, as the bot's confirmation does: a damaged link is explained with the operator's detail (which key).
    const link = await services.links.state(discordUser);
    const damaged = link.state === 'damaged' ? link.error : undefined;
    const result = await services.links.unlink(discordUser);
    if (!result.account) {
      const why = damaged?.operatorMessage ?? damaged?.userMessage ?? 'The stored X link cannot be read.';
      process.stderr.write(`warning: ${why} X could not be told; the link is deleted here.\n`);
      process.stdout.write(`Unlinked Discord user ${discordUser} (the damaged link was deleted locally only)\n`);
      return;
    }
    if (!result.revokedAtX) process.stderr.write(`warning: X did not revoke the token (${result.problem?.userMessage.replace(/\.$/, '') ?? 'no answer'}); it is deleted here anyway.\n`);
    process.stdout.write(`Unlinked @${result.account.screenName}${result.revokedAtX ? '' : ' (deleted locally only)'}\n`);
  });
}
