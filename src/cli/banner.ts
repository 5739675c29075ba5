import { basename } from 'node:path';
import { loadConfig } from '../config.js';
import { normalizeBanner, type NormalizeOptions } from '../avatar/normalize.js';
import { cropOption, discordUserOption, parse } from './args.js';
import { readInput } from './normalize.js';
import { withOperator } from './operator.js';
import { warnIfIncomplete, withServices } from './services.js';

/** The operator's own account: normalised as `normalize --banner` does, uploaded, and read back once X shows it. */
function bannerOperator(image: Buffer, options: NormalizeOptions): Promise<void> {
  return withOperator(async (x, tokens) => {
    const banner = await normalizeBanner(image, options);
    // X applies a banner some seconds after accepting it: the banner shown before tells the new one apart.
    const before = await x.verifyCredentials(tokens);
    const user = await x.updateProfileBanner(tokens, banner.data, undefined, { previousUrl: before.bannerUrl ?? null });
    process.stdout.write(`${user.bannerUrl ?? ''}\n`);
  });
}

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { crop: { type: 'string' }, background: { type: 'string' }, 'discord-user': { type: 'string' } }, ['image']);
  const discordUser = discordUserOption(values['discord-user']);
  // Everything cheap is checked before the network: the options, then the file.
  const options = { crop: cropOption(values.crop), background: values.background };
  const path = positionals[0]!;
  const image = await readInput(path);
  if (discordUser === undefined) return bannerOperator(image, options);
  // The bot's banner change: the link checked before any work, the banner from before saved as the
  // original on the first change (none when there was none), a history entry, a revoked link marked.
  await withServices(loadConfig(), discordUser, async (services) => {
    await services.avatars.requireActiveLink(discordUser);
    const banner = await services.normalizer.banner(image, options);
    const applied = await services.avatars.applyPart(discordUser, 'banner', { data: banner.data, format: banner.format }, 'upload', `file ${basename(path)}`);
    warnIfIncomplete('banner', applied);
    process.stdout.write(`${applied.user.bannerUrl ?? ''}\n`);
  });
}
