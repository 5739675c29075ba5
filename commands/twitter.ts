/** /twitter link | status | unlink */
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  ComponentType,
  EmbedBuilder,
  MessageFlags,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type InteractionEditReplyOptions,
  type RepliableInteraction,
} from 'discord.js';
import { randomUUID } from 'node:crypto';
import { customId, EVERYWHERE, type ComponentInteraction, type SlashCommand } from '../src/bot/command.js';
import { BRAND_COLOUR } from '../src/bot/replies.js';
import { callbackFlowEnabled } from '../src/config.js';
import type { Services } from '../src/services.js';
import { notLinked, readLink } from '../src/store/vault.js';

const UNLINK_CONFIRM_MS = 60_000;

async function linkPrompt(interaction: RepliableInteraction, services: Services, flow: 'pin' | 'callback'): Promise<InteractionEditReplyOptions> {
  const replyTarget = flow === 'callback' ? { applicationId: interaction.applicationId, interactionToken: interaction.token } : undefined;
  const started = await services.links.start(interaction.user.id, flow, replyTarget);
  const authorize = new ButtonBuilder().setStyle(ButtonStyle.Link).setURL(started.authorizeUrl).setLabel('Authorise on X');
  if (flow === 'callback') {
    return {
      content:
        '1. Click **Authorise on X** and approve avatar-bot.\n2. X sends you back to avatar-bot: sign in with Discord there, check it names your Discord account, and confirm.\n3. This message confirms the link.\nThe link works for 15 minutes and only for you.',
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          authorize,
          new ButtonBuilder().setCustomId(customId('twitter', 'use-pin')).setLabel('Use a PIN instead').setStyle(ButtonStyle.Secondary),
        ),
      ],
    };
  }
  return {
    content: '1. Click **Authorise on X** and approve avatar-bot.\n2. X shows a PIN: click **Enter PIN** and type it.\nThe link works for 15 minutes and only for you.',
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        authorize,
        new ButtonBuilder().setCustomId(customId('twitter', 'pin', started.requestToken)).setLabel('Enter PIN').setStyle(ButtonStyle.Primary),
      ),
    ],
  };
}

async function link(interaction: RepliableInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await interaction.editReply(await linkPrompt(interaction, services, callbackFlowEnabled(services.config) ? 'callback' : 'pin'));
}

async function status(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { account, health, user, problem } = await services.links.status(interaction.user.id);
  const embed = new EmbedBuilder()
    .setColor(BRAND_COLOUR)
    .setTitle(`@${user?.screenName ?? account.screenName}`)
    .addFields(
      { name: 'Linked', value: `<t:${Math.floor(Date.parse(account.linkedAt) / 1000)}:R>`, inline: true },
      { name: 'Link health', value: health === 'ok' ? 'Working' : health === 'revoked' ? 'Revoked: link again' : `Unknown: ${problem ?? 'X did not answer'}`, inline: true },
    );
  if (user) embed.setThumbnail(user.profileImage.size400).setURL(`https://x.com/${user.screenName}`);
  const { entries } = await services.avatars.history(interaction.user.id);
  embed.addFields({ name: 'Avatars applied by the bot', value: String(entries.length), inline: true });
  await interaction.editReply({
    embeds: [embed],
    components: health === 'revoked' ? [new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(customId('twitter', 'start')).setLabel('Link again').setStyle(ButtonStyle.Primary))] : [],
  });
}

async function unlink(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const account = await readLink(services.vault, interaction.user.id, (error) => services.logger.warn({ err: error, user: interaction.user.id }, 'unlinking a damaged link'));
  if (!account) throw notLinked();
  const name = account === 'damaged' ? 'your X account' : `@${account.screenName}`;
  const nonce = randomUUID().slice(0, 8);
  const confirmId = customId('twitter', 'unlink-confirm', nonce);
  const cancelId = customId('twitter', 'unlink-cancel', nonce);
  const response = await interaction.reply({
    content:
      account === 'damaged'
        ? 'Your stored X link cannot be read, so X cannot be told. Unlink anyway? The bot deletes your stored link and avatar history; you can also remove avatar-bot at x.com > Settings > Security > Connected apps.'
        : `Unlink ${name}? The bot revokes its access at X and deletes your tokens and avatar history.`,
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId(confirmId).setLabel('Unlink').setStyle(ButtonStyle.Danger),
        new ButtonBuilder().setCustomId(cancelId).setLabel('Cancel').setStyle(ButtonStyle.Secondary),
      ),
    ],
    flags: MessageFlags.Ephemeral,
    withResponse: true,
  });
  let click: ButtonInteraction;
  try {
    click = await response.resource!.message!.awaitMessageComponent({
      componentType: ComponentType.Button,
      filter: (candidate) => candidate.user.id === interaction.user.id && [confirmId, cancelId].includes(candidate.customId),
      time: UNLINK_CONFIRM_MS,
    });
  } catch {
    await interaction.editReply({ content: 'Timed out: nothing was changed.', components: [] });
    return;
  }
  if (click.customId === cancelId) {
    await click.update({ content: 'Cancelled: your X account stays linked.', components: [] });
    return;
  }
  await click.update({ content: `Unlinking ${name}…`, components: [] });
  const result = await services.links.unlink(interaction.user.id);
  const unlinked = result.account ? `@${result.account.screenName}` : 'your X account';
  await click.editReply({
    content: result.revokedAtX
      ? `Unlinked ${unlinked}: access revoked at X, tokens and history deleted.`
      : `Unlinked ${unlinked} here: tokens and history deleted. X did not confirm the revocation (${result.problem?.replace(/\.$/, '') ?? 'no answer'}); you can also remove avatar-bot at x.com > Settings > Security > Connected apps.`,
  });
}

export const twitterCommand: SlashCommand = {
  definition: {
    name: 'twitter',
    ...EVERYWHERE,
    description: 'Link your X account to avatar-bot',
    options: [
      { type: ApplicationCommandOptionType.Subcommand, name: 'link', description: 'Link your X account' },
      { type: ApplicationCommandOptionType.Subcommand, name: 'status', description: 'Show your linked X account and whether the link works' },
      { type: ApplicationCommandOptionType.Subcommand, name: 'unlink', description: 'Revoke the bot’s access and delete your data' },
    ],
  },

  async execute(interaction, services) {
    switch (interaction.options.getSubcommand()) {
      case 'link':
        return link(interaction, services);
      case 'status':
        return status(interaction, services);
      case 'unlink':
        return unlink(interaction, services);
    }
  },

  components: {
    start: (interaction, services) => link(interaction as RepliableInteraction, services),
    'use-pin': async (interaction, services) => {
      const button = interaction as ButtonInteraction;
      await button.deferUpdate();
      await button.editReply(await linkPrompt(button, services, 'pin'));
    },
    pin: async (interaction: ComponentInteraction, _services, requestToken) => {
      if (!interaction.isButton()) return;
      const modal = new ModalBuilder()
        .setCustomId(customId('twitter', 'pin-modal', requestToken))
        .setTitle('Link your X account')
        .addComponents(
          new ActionRowBuilder<TextInputBuilder>().addComponents(
            new TextInputBuilder().setCustomId('pin').setLabel('PIN shown by X').setStyle(TextInputStyle.Short).setMinLength(4).setMaxLength(10).setRequired(true),
          ),
        );
      await interaction.showModal(modal);
    },
    'pin-modal': async (interaction, services, requestToken) => {
      if (!interaction.isModalSubmit()) return;
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      const account = await services.links.completeWithPin(interaction.user.id, requestToken, interaction.fields.getTextInputValue('pin'));
      await interaction.editReply({ content: `Linked @${account.screenName}. Use /avatar set to change your X avatar.` });
    },
  },
};
