/** /banner set | preview | history | revert: the header image of an X profile, as /avatar does the avatar. */
import {
  ApplicationCommandOptionType,
  EmbedBuilder,
  MessageFlags,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { bannerPreview } from '../src/avatar/banner.js';
import type { StoredImage } from '../src/avatar/history.js';
import { EVERYWHERE, type SlashCommand } from '../src/bot/command.js';
import { backgroundOption, cropOption, imageAttachmentOption, invocationOf } from '../src/bot/options.js';
import type { ImageOptions } from '../src/bot/attachment.js';
import { BRAND_COLOUR, partAppliedReply, replyTo } from '../src/bot/replies.js';
import { localizedDefinition } from '../src/i18n/commands.js';
import { localeOf } from '../src/i18n/locale.js';
import { storedReasonWords } from '../src/i18n/render-error.js';
import { t } from '../src/i18n/t.js';
import type { Services } from '../src/services.js';
import { attachedBanner } from './profile/shared.js';
import { forPart, previewButtons, previewComponents } from '../src/bot/parts.js';

const imageOptions = [imageAttachmentOption, cropOption, backgroundOption];

/**
 * The avatar X shows the user now, for the preview's circle: the last one the bot applied, else the one saved
 * from before the bot (their X avatar then); undefined (X's empty grey circle) when the bot has neither.
 */
async function currentAvatar(services: Services, discordUserId: string): Promise<StoredImage | undefined> {
  const { entries, original } = await services.avatars.history(discordUserId);
  const hash = entries.at(-1)?.hash ?? (original?.saved && original.hash ? original.hash : undefined);
  return hash === undefined ? undefined : services.avatars.historyImage(discordUserId, hash);
}

async function set(interaction: ChatInputCommandInteraction, services: Services, options: ImageOptions): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id); // "not linked" or "revoked" before downloading anything
  const { image, label } = await attachedBanner(options.image, options, services);
  const applied = await services.avatars.applyPart(interaction.user.id, 'banner', image, 'upload', label, replyTo(interaction));
  await interaction.editReply(partAppliedReply(applied, 'updated', localeOf(interaction.locale)));
}

async function preview(interaction: ChatInputCommandInteraction, services: Services, options: ImageOptions): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id); // before downloading: nothing is fetched or stored without a link
  const { image, label } = await attachedBanner(options.image, options, services);
  const saved = await services.avatars.createPreview(interaction.user.id, image, label, 'banner');
  const avatar = await currentAvatar(services, interaction.user.id);
  const picture = await bannerPreview(image.data, avatar?.data);
  const locale = localeOf(interaction.locale);
  await interaction.editReply({
    content: t(locale, 'profile.banner.preview.prompt'),
    files: [{ attachment: picture, name: 'banner-preview.png' }],
    components: [
      previewButtons('banner', saved.id, locale),
    ],
  });
}

/** The banners the bot applied, newest first, with when, how and the URL X showed; and what came before the bot. */
async function history(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { entries, original } = await services.avatars.partHistory(interaction.user.id, 'banner');
  const locale = localeOf(interaction.locale);
  if (entries.length === 0) {
    await interaction.editReply({ content: t(locale, 'profile.banner.history.empty') });
    return;
  }
  const embeds = [...entries].reverse().map((entry, index) =>
    new EmbedBuilder()
      .setColor(BRAND_COLOUR)
      .setTitle(index === 0 ? t(locale, 'avatar.history.current') : t(locale, 'avatar.history.changes-ago', { count: index }))
      .setDescription(`<t:${Math.floor(Date.parse(entry.appliedAt) / 1000)}:f> · ${t(locale, `avatar.source.${entry.source}`)} · ${entry.label}\n${entry.url400}`),
  );
  const originalNote = !original
    ? ''
    : !original.saved
      ? t(locale, 'profile.banner.history.original-not-saved', { reason: storedReasonWords(original.reason, locale) })
      : 'none' in original
        ? t(locale, 'profile.banner.history.original-none')
        : t(locale, 'profile.banner.history.original-saved');
  await interaction.editReply({ content: originalNote, embeds });
}

async function revert(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const reverted = await forPart('banner', () => services.avatars.revertPart(interaction.user.id, 'banner', replyTo(interaction)));
  await interaction.editReply(partAppliedReply(reverted, reverted.restoredOriginal ? 'original-restored' : 'previous-restored', localeOf(interaction.locale)));
}

// Descriptions are the catalogue's (command.banner.*); those here are for readers.
const definition = {
  name: 'banner',
  ...EVERYWHERE,
  description: 'Change your X banner',
  options: [
    { type: ApplicationCommandOptionType.Subcommand, name: 'set', description: 'Set your X banner from an image', options: imageOptions },
    { type: ApplicationCommandOptionType.Subcommand, name: 'preview', description: 'See your banner as X shows it before applying it', options: imageOptions },
    { type: ApplicationCommandOptionType.Subcommand, name: 'history', description: 'The last 10 banners the bot applied' },
    { type: ApplicationCommandOptionType.Subcommand, name: 'revert', description: 'Go back to your previous banner' },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const bannerCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  async execute(interaction, services) {
    const invocation = invocationOf(definition, interaction);
    switch (invocation.subcommand) {
      case 'set':
        return set(interaction, services, invocation.options);
      case 'preview':
        return preview(interaction, services, invocation.options);
      case 'history':
        return history(interaction, services);
      case 'revert':
        return revert(interaction, services);
    }
  },

  components: previewComponents('banner'),
};
