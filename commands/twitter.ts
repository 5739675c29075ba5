/** /twitter link | status | unlink */
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  MessageFlags,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  type ChatInputCommandInteraction,
  type InteractionEditReplyOptions,
  type RepliableInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { customId, EVERYWHERE, onButton, onModal, type SlashCommand } from '../src/bot/command.js';
import { confirm } from '../src/bot/confirm.js';
import { subcommandOf } from '../src/bot/options.js';
import { BRAND_COLOUR } from '../src/bot/replies.js';
import { callbackFlowEnabled } from '../src/config.js';
import { localizedDefinition } from '../src/i18n/commands.js';
import type { UserFacingError } from '../src/errors.js';
import { localeOf, type Locale } from '../src/i18n/locale.js';
import { errorWords, reasonWords } from '../src/i18n/render-error.js';
import { t } from '../src/i18n/t.js';
import type { Services } from '../src/services.js';
import { notLinked } from '../src/accounts/vault.js';

const UNLINK_CONFIRM_MS = 60_000;

async function linkPrompt(interaction: RepliableInteraction, services: Services, flow: 'pin' | 'callback'): Promise<InteractionEditReplyOptions> {
  const locale = localeOf(interaction.locale);
  const replyTarget = flow === 'callback' ? { applicationId: interaction.applicationId, interactionToken: interaction.token, locale } : undefined;
  const started = await services.links.start(interaction.user.id, flow, replyTarget);
  const authorize = new ButtonBuilder().setStyle(ButtonStyle.Link).setURL(started.authorizeUrl).setLabel(t(locale, 'twitter.link.authorise'));
  if (flow === 'callback') {
    return {
      content: t(locale, 'twitter.link.callback-steps'),
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          authorize,
          new ButtonBuilder().setCustomId(customId('twitter', 'use-pin')).setLabel(t(locale, 'twitter.link.use-pin')).setStyle(ButtonStyle.Secondary),
        ),
      ],
    };
  }
  return {
    content: t(locale, 'twitter.link.pin-steps'),
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        authorize,
        new ButtonBuilder().setCustomId(customId('twitter', 'pin', started.requestToken)).setLabel(t(locale, 'twitter.link.enter-pin')).setStyle(ButtonStyle.Primary),
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
  const locale = localeOf(interaction.locale);
  const embed = new EmbedBuilder()
    .setColor(BRAND_COLOUR)
    .setTitle(`@${user?.screenName ?? account.screenName}`)
    .addFields(
      { name: t(locale, 'twitter.status.linked'), value: `<t:${Math.floor(Date.parse(account.linkedAt) / 1000)}:R>`, inline: true },
      {
        name: t(locale, 'twitter.status.health'),
        value:
          health === 'ok'
            ? t(locale, 'twitter.status.working')
            : health === 'revoked'
              ? t(locale, 'twitter.status.revoked')
              : t(locale, 'twitter.status.unknown', { problem: problem ? errorWords(problem, locale, 'bot') : t(locale, 'twitter.status.no-answer') }),
        inline: true,
      },
    );
  if (user) embed.setThumbnail(user.profileImage.size400).setURL(`https://x.com/${user.screenName}`);
  const { entries } = await services.avatars.history(interaction.user.id);
  embed.addFields({ name: t(locale, 'twitter.status.applied'), value: String(entries.length), inline: true });
  await interaction.editReply({
    embeds: [embed],
    components: health === 'revoked' ? [new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(customId('twitter', 'start')).setLabel(t(locale, 'common.button.link-again')).setStyle(ButtonStyle.Primary))] : [],
  });
}

/** Why X was not told of an unlink, inside the reply's sentence. */
function unlinkProblem(problem: UserFacingError | undefined, locale: Locale): string {
  if (!problem) return t(locale, 'twitter.unlink.no-answer');
  return problem.kind === 'damaged-link' ? t(locale, 'twitter.unlink.unreadable') : reasonWords(problem, locale);
}

async function unlink(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const link = await services.links.state(interaction.user.id);
  if (link.state === 'not-linked') throw notLinked();
  if (link.state === 'damaged') services.logger.warn({ err: link.error, user: interaction.user.id }, 'unlinking a damaged link');
  const account = link.state === 'damaged' ? 'damaged' : link.account;
  const locale = localeOf(interaction.locale);
  const name = account === 'damaged' ? t(locale, 'twitter.unlink.your-account') : `@${account.screenName}`;
  const click = await confirm(interaction, {
    locale,
    reply: true,
    content: account === 'damaged' ? t(locale, 'twitter.unlink.confirm-damaged') : t(locale, 'twitter.unlink.confirm', { name }),
    confirmLabel: t(locale, 'twitter.unlink.button'),
    ids: (choice, nonce) => customId('twitter', `unlink-${choice}`, nonce),
    timeoutMs: UNLINK_CONFIRM_MS,
    cancelled: t(locale, 'twitter.unlink.cancelled'),
  });
  if (!click) return;
  await click.update({ content: t(locale, 'twitter.unlink.unlinking', { name }), components: [] });
  const result = await services.links.unlink(interaction.user.id);
  const unlinked = result.account ? `@${result.account.screenName}` : t(locale, 'twitter.unlink.your-account');
  await click.editReply({
    content: result.revokedAtX
      ? t(locale, 'twitter.unlink.done', { name: unlinked })
      : t(locale, 'twitter.unlink.done-unconfirmed', { name: unlinked, problem: unlinkProblem(result.problem, locale) }),
  });
}

// Descriptions are the catalogue's (command.twitter.*); those here are for readers.
const definition = {
  name: 'twitter',
  ...EVERYWHERE,
  description: 'Link your X account to avatar-bot',
  options: [
    { type: ApplicationCommandOptionType.Subcommand, name: 'link', description: 'Link your X account' },
    { type: ApplicationCommandOptionType.Subcommand, name: 'status', description: 'Show your linked X account and whether the link works' },
    { type: ApplicationCommandOptionType.Subcommand, name: 'unlink', description: 'Revoke the bot’s access and delete your data' },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const twitterCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  async execute(interaction, services) {
    switch (subcommandOf(definition, interaction)) {
      case 'link':
        return link(interaction, services);
      case 'status':
        return status(interaction, services);
      case 'unlink':
        return unlink(interaction, services);
    }
  },

  components: {
    start: onButton(link),
    'use-pin': onButton(async (interaction, services) => {
      await interaction.deferUpdate();
      await interaction.editReply(await linkPrompt(interaction, services, 'pin'));
    }),
    pin: onButton(async (interaction, _services, requestToken) => {
      const locale = localeOf(interaction.locale);
      const modal = new ModalBuilder()
        .setCustomId(customId('twitter', 'pin-modal', requestToken))
        .setTitle(t(locale, 'twitter.link.modal-title'))
        .addComponents(
          new ActionRowBuilder<TextInputBuilder>().addComponents(
            new TextInputBuilder().setCustomId('pin').setLabel(t(locale, 'twitter.link.pin-label')).setStyle(TextInputStyle.Short).setMinLength(4).setMaxLength(10).setRequired(true),
          ),
        );
      await interaction.showModal(modal);
    }),
    'pin-modal': onModal(async (interaction, services, requestToken) => {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      const account = await services.links.completeWithPin(interaction.user.id, requestToken, interaction.fields.getTextInputValue('pin'));
      await interaction.editReply({ content: t(localeOf(interaction.locale), 'twitter.link.linked', { screenName: account.screenName }) });
    }),
  },
};
