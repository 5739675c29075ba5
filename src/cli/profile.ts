import { loadConfig } from '../config.js';
import { UserFacingError } from '../errors.js';
import type { PartValues } from '../avatar/changes.js';
import { checkProfileText, type ProfileText } from '../profile/text.js';
import type { XUser } from '../x/client.js';
import { discordUserOption, parse, UsageError } from './args.js';
import { forTerminal } from './messages.js';
import { withOperator } from './operator.js';
import { warnIfIncomplete, withServices } from './services.js';

/** How each change is labelled in the part's history (what the bot's history lists show). */
const LABEL = 'avatar-bot profile';

/** What X shows now for the parts asked, as the one JSON line the command prints. */
const shownLine = (user: XUser, fields: ProfileText) =>
  `${JSON.stringify({ ...(fields.name !== undefined ? { name: user.name } : {}), ...(fields.description !== undefined ? { bio: user.description ?? '' } : {}) })}\n`;

/** The texts given, checked as X counts them (graphemes) before anything is opened or sent. */
function textsOf(name: string | undefined, bio: string | undefined, discordUser: string | undefined): ProfileText {
  if (name === undefined && bio === undefined) throw new UsageError("profile needs --name <text>, --bio <text> or both (--bio '' empties the bio)");
  // X keeps a display name on every account: it can be changed, never emptied.
  if (name !== undefined && name.trim() === '') throw forTerminal(new UserFacingError('empty', {}, { variant: 'name' }), discordUser);
  const fields: ProfileText = { ...(name !== undefined ? { name } : {}), ...(bio !== undefined ? { description: bio } : {}) };
  try {
    checkProfileText(fields);
  } catch (error) {
    throw forTerminal(error, discordUser);
  }
  return fields;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { name: { type: 'string' }, bio: { type: 'string' }, 'discord-user': { type: 'string' } }, []);
  const discordUser = discordUserOption(values['discord-user']);
  const fields = textsOf(values.name, values.bio, discordUser);
  if (discordUser === undefined) {
    // The operator's own account: one update_profile with both texts; nothing kept.
    return withOperator(async (x, tokens) => void process.stdout.write(shownLine(await x.updateProfile(tokens, fields), fields)));
  }
  // The bot's name and bio changes: one recorded change per part (its history, its original saved on the
  // first change), a part X refuses leaves that part as it was and the other is still made.
  await withServices(loadConfig(), discordUser, async (services) => {
    await services.avatars.requireActiveLink(discordUser);
    const parts: PartValues = {
      ...(fields.name !== undefined ? { name: { text: fields.name } } : {}),
      ...(fields.description !== undefined ? { bio: { text: fields.description } } : {}),
    };
    const results = await services.avatars.applyParts(discordUser, parts, 'upload', LABEL);
    let shown: XUser | undefined;
    let failure: unknown;
    for (const part of ['name', 'bio'] as const) {
      const result = results[part];
      if (result === undefined) continue;
      if ('error' in result) {
        failure ??= result.error;
        continue;
      }
      warnIfIncomplete(part, result.applied);
      shown = result.applied.user; // the later answer shows both texts
    }
    if (shown) {
      const made = { ...(results.name && 'applied' in results.name ? { name: '' } : {}), ...(results.bio && 'applied' in results.bio ? { description: '' } : {}) };
      process.stdout.write(shownLine(shown, made));
    }
    if (failure !== undefined) throw failure;
  });
}
