import { createLogger } from '../log.js';
import { loadConfig, need } from '../config.js';
import { normalizeAvatar } from '../avatar/normalize.js';
import { openVault, xClientFrom } from '../wiring.js';
import type { UserTokens } from '../x/client.js';
import { cropOption, discordUserOption, parse } from './args.js';
import { readInput } from './normalize.js';

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { crop: { type: 'string' }, background: { type: 'string' }, 'discord-user': { type: 'string' } },
    ['image'],
  );
  const discordUser = discordUserOption(values['discord-user']);
  const config = loadConfig();
  const x = xClientFrom(config, createLogger({ level: config.logLevel }));
  // Validate everything cheap before touching the network.
  const image = await readInput(positionals[0]!);
  const crop = cropOption(values.crop);

  let tokens: UserTokens;
  let close = async () => {};
  if (discordUser === undefined) {
    const operator = need(config, 'twitterAccessToken', 'twitterAccessTokenSecret');
    tokens = { token: operator.twitterAccessToken, secret: operator.twitterAccessTokenSecret };
  } else {
    const { store, vault } = await openVault(config);
    close = () => store.close();
    try {
      const account = await vault.require(discordUser);
      tokens = { token: account.token, secret: account.secret };
    } catch (error) {
      await close();
      throw error;
    }
  }
  try {
    const avatar = await normalizeAvatar(image, { crop, background: values.background });
    const user = await x.updateProfileImage(tokens, avatar);
    process.stdout.write(`${user.profileImage.size400}\n`);
  } finally {
    await Promise.all([x.close(), close()]);
  }
}
