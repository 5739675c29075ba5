import { basename } from 'node:path';
import { loadConfig } from '../config.js';
import { normalizeAvatar, type CropMode } from '../avatar/normalize.js';
import { cropOption, discordUserOption, parse } from './args.js';
import { readInput } from './normalize.js';
import { withOperator } from './operator.js';
import { warnIfIncomplete, withServices } from './services.js';

/** The operator's own account (TWITTER_ACCESS_TOKEN): no Discord user, so no history to keep. */
function setOperator(image: Buffer, options: { crop?: CropMode; background?: string }): Promise<void> {
  return withOperator(async (x, tokens) => {
    const avatar = await normalizeAvatar(image, options);
    const user = await x.updateProfileImage(tokens, avatar);
    process.stdout.write(`${user.profileImage.size400}\n`);
  });
}

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { crop: { type: 'string' }, background: { type: 'string' }, 'discord-user': { type: 'string' } },
    ['image'],
  );
  const discordUser = discordUserOption(values['discord-user']);
  // Validate everything cheap before touching the network.
  const path = positionals[0]!;
  const image = await readInput(path);
  const options = { crop: cropOption(values.crop), background: values.background };
  if (discordUser === undefined) return setOperator(image, options);
  // /avatar set's use case: the link checked before any work, the original saved on the first change, a
  // history entry, a revoked link marked.
  await withServices(loadConfig(), discordUser, async (services) => {
    await services.avatars.requireActiveLink(discordUser);
    const avatar = await services.normalizer.normalize(image, options);
    const applied = await services.avatars.apply(discordUser, { data: avatar.data, format: avatar.format }, 'upload', `file ${basename(path)}`);
    warnIfIncomplete('avatar', applied);
    process.stdout.write(`${applied.user.profileImage.size400}\n`);
  });
}
