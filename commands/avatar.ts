/** /avatar set | preview | history | revert */
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  EmbedBuilder,
  MessageFlags,
  StringSelectMenuBuilder,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { circlePreview } from '../src/avatar/circle.js';
import { normalisedAttachment, type ImageOptions } from '../src/bot/attachment.js';
import { customId, EVERYWHERE, onSelect, type SlashCommand } from '../src/bot/command.js';
import { backgroundOption, cropOption, imageAttachmentOption, invocationOf } from '../src/bot/options.js';
import { localizedDefinition } from '../src/i18n/commands.js';
import { localeOf, type Locale } from '../src/i18n/locale.js';
import { t } from '../src/i18n/t.js';
import { storedReasonWords } from '../src/i18n/render-error.js';
import { appliedReply, avatarFile, BRAND_COLOUR, replyTo } from '../src/bot/replies.js';
import { previewButtons, previewComponents } from '../src/bot/parts.js';
import type { Services } from '../src/services.js';
import type { StoredImage } from '../src/avatar/history.js';

const imageOptions = [imageAttachmentOption, cropOption, backgroundOption];

async function attachedImage(options: ImageOptions, services: Services): Promise<{ image: StoredImage; label: string }> {
  const { avatar, filename } = await normalisedAttachment(options, services);
  return { image: { data: avatar.data, format: avatar.format }, label: `attachment ${filename}` };
}

/** When a history entry was applied, for the select menu: English keeps the UTC form it always had. */
function optionDate(appliedAt: string, locale: Locale): string {
  const date = new Date(appliedAt);
  if (locale === 'en-US') return date.toUTCString();
  return `${new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(date)} UTC`;
}

async function set(interaction: ChatInputCommandInteraction, services: Services, options: ImageOptions): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id); // say "not linked" or "revoked" before downloading anything
  const { image, label } = await attachedImage(options, services);
  const applied = await services.avatars.apply(interaction.user.id, image, 'upload', label, replyTo(interaction));
  await interaction.editReply(appliedReply(applied, 'updated', localeOf(interaction.locale)));
}

async function preview(interaction: ChatInputCommandInteraction, services: Services, options: ImageOptions): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id); // before downloading: nothing is fetched or stored without a link
  const { image, label } = await attachedImage(options, services);
  const saved = await services.avatars.createPreview(interaction.user.id, image, label);
  const locale = localeOf(interaction.locale);
  const square = avatarFile(image, 'preview');
  const circle = avatarFile({ data: await circlePreview(image.data), format: 'png' }, 'preview-circle');
  await interaction.editReply({
    content: t(locale, 'avatar.preview.prompt'),
    files: [square, circle],
    components: [
      previewButtons('avatar', saved.id, locale),
    ],
  });
}

async function history(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { entries, original } = await services.avatars.history(interaction.user.id);
  const locale = localeOf(interaction.locale);
  if (entries.length === 0) {
    await interaction.editReply({ content: t(locale, 'avatar.history.empty') });
    return;
  }
  const newestFirst = [...entries].reverse();
  const files = [];
  const embeds = [];
  for (const [index, entry] of newestFirst.entries()) {
    const image = await services.avatars.historyImage(interaction.user.id, entry.hash);
    const embed = new EmbedBuilder()
      .setColor(BRAND_COLOUR)
      .setTitle(index === 0 ? t(locale, 'avatar.history.current') : t(locale, 'avatar.history.changes-ago', { count: index }))
      .setDescription(`<t:${Math.floor(Date.parse(entry.appliedAt) / 1000)}:f> · ${t(locale, `avatar.source.${entry.source}`)} · ${entry.label}`);
    if (image) {
      const file = avatarFile(image, `history-${index}`);
      files.push(file);
      embed.setThumbnail(`attachment://${file.name}`);
    }
    embeds.push(embed);
  }
  const select = new StringSelectMenuBuilder()
    .setCustomId(customId('avatar', 'reapply'))
    .setPlaceholder(t(locale, 'avatar.history.select'))
    .addOptions(
      newestFirst.map((entry, index) => ({
        label: t(locale, 'avatar.history.option', { when: index === 0 ? t(locale, 'avatar.history.current') : t(locale, 'avatar.history.ago', { count: index }), label: entry.label }).slice(0, 100),
        description: optionDate(entry.appliedAt, locale).slice(0, 100),
        value: entry.id,
      })),
    );
  const originalNote = original?.saved
    ? t(locale, 'avatar.history.original-saved')
    : original
      ? t(locale, 'avatar.history.original-not-saved', { reason: storedReasonWords(original.reason, locale) })
      : '';
  await interaction.editReply({ content: originalNote, embeds, files, components: [new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(select)] });
}

async function revert(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const reverted = await services.avatars.revert(interaction.user.id, replyTo(interaction));
  await interaction.editReply(appliedReply(reverted, reverted.restoredOriginal ? 'original-restored' : 'previous-restored', localeOf(interaction.locale)));
}

// Descriptions are the catalogue's (command.avatar.*); those here are for readers.
const definition = {
  name: 'avatar',
  ...EVERYWHERE,
  description: 'Change your X avatar',
  options: [
    { type: ApplicationCommandOptionType.Subcommand, name: 'set', description: 'Set your X avatar from an image', options: imageOptions },
    { type: ApplicationCommandOptionType.Subcommand, name: 'preview', description: 'See how an image will look on X before applying it', options: imageOptions },
    { type: ApplicationCommandOptionType.Subcommand, name: 'history', description: 'The last 10 avatars the bot applied' },
    { type: ApplicationCommandOptionType.Subcommand, name: 'revert', description: 'Go back to your previous avatar' },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const avatarCommand: SlashCommand = {
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

  components: {
    ...previewComponents('avatar'),
    reapply: onSelect(async (interaction, services) => {
      const [entryId = ''] = interaction.values;
      const locale = localeOf(interaction.locale);
      await interaction.update({ content: t(locale, 'common.applying'), components: [], embeds: [], attachments: [] });
      const applied = await services.avatars.reapply(interaction.user.id, entryId, replyTo(interaction));
      await interaction.editReply(appliedReply(applied, 'again', locale));
    }),
  },
};
