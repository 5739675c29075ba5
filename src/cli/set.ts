import { basename } from 'node:path';
import { createLogger } from '../log.js';
import { loadConfig, need } from '../config.js';
import { normalizeAvatar, type CropMode } from '../avatar/normalize.js';
import { xClientFrom } from '../wiring.js';
import { cropOption, discordUserOption, parse } from './args.js';
import { readInput } from './normalize.js';
import { withServices } from './services.js';
import { storedReasonWords } from '../i18n/render-error.js';

/** The operator's own account (TWITTER_ACCESS_TOKEN): no Discord user, so no history to keep. */
async function setOperator(image: Buffer, options: { crop?: CropMode; background?: string }): Promise<void> {
  const config = loadConfig();
  const x = xClientFrom(config, createLogger({ level: config.logLevel }));
  try {
    const operator = need(config, 'twitterAccessToken', 'twitterAccessTokenSecret');
    const avatar = await normalizeAvatar(image, options);
    const user = await x.updateProfileImage({ token: operator.twitterAccessToken, secret: operator.twitterAccessTokenSecret }, avatar);
    process.stdout.write(`${user.profileImage.size400}\n`);
  } finally {
    await x.close();
  }
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
    if (applied.originalNotSaved) process.stderr.write(`warning: the avatar from before could not be saved (${storedReasonWords(applied.originalNotSaved, 'en-US')}); it cannot be reverted to.\n`);
    if (applied.notRecorded) process.stderr.write('warning: X changed the avatar but the store did not record it; the bot records it at its next start.\n');
    process.stdout.write(`${applied.user.profileImage.size400}\n`);
  });
}
