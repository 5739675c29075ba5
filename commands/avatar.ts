/** /avatar set | preview | history | revert */
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  MessageFlags,
  StringSelectMenuBuilder,
  type APIApplicationCommandBasicOption,
  type ChatInputCommandInteraction,
} from 'discord.js';
import { AccountError } from '../src/account-errors.js';
import type { AppliedAvatar } from '../src/avatar-changes.js';
import { circlePreview } from '../src/avatar/circle.js';
import { normalisedAttachment } from '../src/bot/attachment.js';
import { customId, EVERYWHERE, type SlashCommand } from '../src/bot/command.js';
import { backgroundOption, cropOption, imageAttachmentOption } from '../src/bot/options.js';
import { appliedReply, avatarFile, BRAND_COLOUR } from '../src/bot/replies.js';
import type { Services } from '../src/services.js';
import type { StoredImage } from '../src/store/history.js';

const imageOptions: APIApplicationCommandBasicOption[] = [imageAttachmentOption, cropOption, backgroundOption];

async function attachedImage(interaction: ChatInputCommandInteraction, services: Services): Promise<{ image: StoredImage; label: string }> {
  const { avatar, filename } = await normalisedAttachment(interaction, services);
  return { image: { data: avatar.data, format: avatar.format }, label: `attachment ${filename}` };
}

/** Where the result goes, should the bot restart before X has processed the image. */
const replyTo = (interaction: { applicationId: string; token: string }) => ({ replyTarget: { applicationId: interaction.applicationId, interactionToken: interaction.token } });

const isPreviewUsed = (error: unknown) => error instanceof AccountError && error.kind === 'preview-used';

async function set(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id); // say "not linked" or "revoked" before downloading anything
  const { image, label } = await attachedImage(interaction, services);
  const applied = await services.avatars.apply(interaction.user.id, image, 'upload', label, replyTo(interaction));
  await interaction.editReply(appliedReply(applied, 'Avatar updated'));
}

async function preview(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id); // before downloading: nothing is fetched or stored without a link
  const { image, label } = await attachedImage(interaction, services);
  const saved = await services.avatars.createPreview(interaction.user.id, image, label);
  const square = avatarFile(image, 'preview');
  const circle = avatarFile({ data: await circlePreview(image.data), format: 'png' }, 'preview-circle');
  await interaction.editReply({
    content: 'This is what X will show (square, and as the circle X crops it to). Apply it?',
    files: [square, circle],
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId(customId('avatar', 'apply', saved.id)).setLabel('Apply').setStyle(ButtonStyle.Success),
        new ButtonBuilder().setCustomId(customId('avatar', 'cancel', saved.id)).setLabel('Cancel').setStyle(ButtonStyle.Secondary),
      ),
    ],
  });
}

async function history(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { entries, original } = await services.avatars.history(interaction.user.id);
  if (entries.length === 0) {
    await interaction.editReply({ content: 'No avatars applied through the bot yet. Use /avatar set.' });
    return;
  }
  const newestFirst = [...entries].reverse();
  const files = [];
  const embeds = [];
  for (const [index, entry] of newestFirst.entries()) {
    const image = await services.avatars.historyImage(interaction.user.id, entry.hash);
    const embed = new EmbedBuilder()
      .setColor(BRAND_COLOUR)
      .setTitle(index === 0 ? 'Current' : `${index} change${index === 1 ? '' : 's'} ago`)
      .setDescription(`<t:${Math.floor(Date.parse(entry.appliedAt) / 1000)}:f> · ${entry.source} · ${entry.label}`);
    if (image) {
      const file = avatarFile(image, `history-${index}`);
      files.push(file);
      embed.setThumbnail(`attachment://${file.name}`);
    }
    embeds.push(embed);
  }
  const select = new StringSelectMenuBuilder()
    .setCustomId(customId('avatar', 'reapply'))
    .setPlaceholder('Apply one of these again')
    .addOptions(
      newestFirst.map((entry, index) => ({
        label: `${index === 0 ? 'Current' : `${index} ago`}: ${entry.label}`.slice(0, 100),
        description: new Date(entry.appliedAt).toUTCString().slice(0, 100),
        value: entry.id,
      })),
    );
  const originalNote = original?.saved ? 'Your avatar from before the bot is saved: /avatar revert goes back step by step.' : original ? `Your avatar from before the bot could not be saved (${original.reason.replace(/\.$/, '')}).` : '';
  await interaction.editReply({ content: originalNote, embeds, files, components: [new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(select)] });
}

async function revert(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const reverted = await services.avatars.revert(interaction.user.id, replyTo(interaction));
  await interaction.editReply(appliedReply(reverted, reverted.restoredOriginal ? 'Original avatar restored' : 'Previous avatar restored'));
}

export const avatarCommand: SlashCommand = {
  definition: {
    name: 'avatar',
    ...EVERYWHERE,
    description: 'Change your X avatar',
    options: [
      { type: ApplicationCommandOptionType.Subcommand, name: 'set', description: 'Set your X avatar from an image', options: imageOptions },
      { type: ApplicationCommandOptionType.Subcommand, name: 'preview', description: 'See how an image will look on X before applying it', options: imageOptions },
      { type: ApplicationCommandOptionType.Subcommand, name: 'history', description: 'The last 10 avatars the bot applied' },
      { type: ApplicationCommandOptionType.Subcommand, name: 'revert', description: 'Go back to your previous avatar' },
    ],
  },

  async execute(interaction, services) {
    switch (interaction.options.getSubcommand()) {
      case 'set':
        return set(interaction, services);
      case 'preview':
        return preview(interaction, services);
      case 'history':
        return history(interaction, services);
      case 'revert':
        return revert(interaction, services);
    }
  },

  components: {
    apply: async (interaction, services, previewId) => {
      if (!interaction.isButton()) return;
      await interaction.update({ content: 'Applying…', components: [] });
      let applied: AppliedAvatar;
      try {
        applied = await services.avatars.applyPreview(interaction.user.id, previewId, replyTo(interaction));
      } catch (error) {
        if (isPreviewUsed(error)) return; // a double click: the first click shows the result on this message
        throw error;
      }
      await interaction.editReply({ ...appliedReply(applied, 'Avatar updated'), attachments: [] });
    },
    cancel: async (interaction, services, previewId) => {
      if (!interaction.isButton()) return;
      await interaction.deferUpdate(); // discarding waits for an Apply in progress
      let content = 'Cancelled: nothing was changed.';
      try {
        await services.avatars.discardPreview(interaction.user.id, previewId);
      } catch (error) {
        if (isPreviewUsed(error)) return; // Apply was clicked first: its result stays on this message
        if (!(error instanceof AccountError && error.kind === 'preview-expired')) throw error; // the usual failure reply
        content = 'That preview had already expired: nothing was changed.';
      }
      await interaction.editReply({ content, components: [], files: [], attachments: [] });
    },
    reapply: async (interaction, services) => {
      if (!interaction.isStringSelectMenu()) return;
      const [entryId = ''] = interaction.values;
      await interaction.update({ content: 'Applying…', components: [], embeds: [], attachments: [] });
      const applied = await services.avatars.reapply(interaction.user.id, entryId, replyTo(interaction));
      await interaction.editReply(appliedReply(applied, 'Avatar applied again'));
    },
  },
};
