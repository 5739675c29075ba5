/**
 * /profile apply: several parts at once (at least one), one recorded change per part. Texts are checked
 * against X's limits before an image is downloaded or anything is sent; the reply lists each part: what X
 * shows now, or why that part was not changed (the others are still made).
 */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { PartValues } from '../../src/avatar/changes.js';
import { normalisedAttachment } from '../../src/bot/attachment.js';
import { backgroundOption, cropOption, type OptionsOf } from '../../src/bot/options.js';
import { partsReply, replyTo } from '../../src/bot/replies.js';
import { localeOf } from '../../src/i18n/locale.js';
import type { Services } from '../../src/services.js';
import { attachedBanner, BIO_MAX_UNITS, checkTexts, NAME_MAX_UNITS, requireSomePart } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'apply',
  description: 'Change several parts of your profile at once',
  options: [
    { type: ApplicationCommandOptionType.Attachment, name: 'avatar', description: 'An image for your avatar' },
    { type: ApplicationCommandOptionType.Attachment, name: 'banner', description: 'An image for your banner' },
    { type: ApplicationCommandOptionType.String, name: 'name', description: 'A display name', min_length: 1, max_length: NAME_MAX_UNITS },
    { type: ApplicationCommandOptionType.String, name: 'bio', description: 'A bio', min_length: 1, max_length: BIO_MAX_UNITS },
    cropOption,
    backgroundOption,
  ],
} as const satisfies APIApplicationCommandSubcommandOption;

/** What a part changed by /profile apply is labelled in its history. */
const LABEL = 'profile apply';

export async function run(interaction: ChatInputCommandInteraction, services: Services, options: OptionsOf<typeof subcommand>): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { avatar, banner, name, bio, crop, background } = options;
  requireSomePart({ avatar, banner, name, bio });
  checkTexts({ name, bio });
  await services.avatars.requireActiveLink(interaction.user.id); // before downloading anything
  const [avatarImage, bannerImage] = await Promise.all([
    avatar && normalisedAttachment({ image: avatar, crop, background }, services),
    banner && attachedBanner(banner, { crop, background }, services),
  ]);
  const values: PartValues = {
    ...(avatarImage ? { avatar: { data: avatarImage.avatar.data, format: avatarImage.avatar.format } } : {}),
    ...(bannerImage ? { banner: bannerImage.image } : {}),
    ...(name === undefined ? {} : { name: { text: name } }),
    ...(bio === undefined ? {} : { bio: { text: bio } }),
  };
  const results = await services.avatars.applyParts(interaction.user.id, values, 'upload', LABEL, replyTo(interaction));
  await interaction.editReply(partsReply(results, localeOf(interaction.locale), services.logger));
}
