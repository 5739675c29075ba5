import { loadConfig } from '../config.js';
import { UserFacingError } from '../errors.js';
import { discordUserOption, parse, partOption, UsageError } from './args.js';
import { warnIfIncomplete, withServices } from './services.js';

/**
 * The bot's revert of one part: back to the value before the current one, else the part's saved original
 * (a banner or bio the user did not have is removed or emptied). Prints what X shows now as one JSON line.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { part: { type: 'string' }, 'discord-user': { type: 'string' } }, []);
  const part = partOption(values.part);
  const discordUser = discordUserOption(values['discord-user']);
  // The operator's account has no history here: only a Discord user's changes can be reverted.
  if (discordUser === undefined) throw new UsageError('revert needs --discord-user <id>');
  await withServices(loadConfig(), discordUser, async (services) => {
    const reverted = await services.avatars.revertPart(discordUser, part).catch((error: unknown) => {
      // The bot's words say "your avatar"; the terminal names the part and the Discord user.
      if (error instanceof UserFacingError && error.kind === 'nothing-to-revert' && error.variant === undefined) throw new UserFacingError(error.kind, error.params, { variant: part, cause: error });
      throw error;
    });
    warnIfIncomplete(part, reverted);
    const { user } = reverted;
    const shown = { avatar: user.profileImage.size400, banner: user.bannerUrl ?? '', name: user.name, bio: user.description ?? '' }[part];
    process.stdout.write(`${JSON.stringify({ part, shown, original: reverted.restoredOriginal })}\n`);
  });
}
