/** /branding-consent join | leave: every member's own say. */
import { ApplicationCommandOptionType, MessageFlags, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { SERVER_ONLY, type SlashCommand } from '../../src/bot/command.js';
import { subcommandOf } from '../../src/bot/options.js';
import { localizedDefinition } from '../../src/i18n/commands.js';
import { localeOf } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import { linkProblem } from '../../src/accounts/link-state.js';
import { linkButtonRow } from '../../src/bot/replies.js';
import { errorWords } from '../../src/i18n/render-error.js';
import { requireGuild } from './common.js';

// Descriptions are the catalogue's (command.branding-consent.*); those here are for readers.
const definition = {
  name: 'branding-consent',
  description: 'Allow or stop this server’s admins setting your X avatar',
  ...SERVER_ONLY,
  options: [
    { type: ApplicationCommandOptionType.Subcommand, name: 'join', description: 'Allow this server’s admins to set your X avatar' },
    { type: ApplicationCommandOptionType.Subcommand, name: 'leave', description: 'Withdraw that permission now' },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const brandingConsentCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  async execute(interaction, services) {
    const locale = localeOf(interaction.locale);
    const guildId = requireGuild(interaction);
    if (subcommandOf(definition, interaction) === 'join') {
      const link = await services.links.state(interaction.user.id);
      if (link.state === 'damaged') services.logger.warn({ err: link.error, user: interaction.user.id }, 'a stored X link cannot be opened');
      await services.branding.consent.join(guildId, interaction.user.id);
      await services.scheduler.edit(interaction.user.id); // the server's team season, if one is active
      const joined = [
        t(locale, 'branding.consent.joined'),
        // A revoked link is told as every command tells it (the error's words and a "Link again" button).
        ...(link.state === 'damaged' ? [t(locale, 'branding.consent.damaged')] : link.state === 'not-linked' ? [t(locale, 'branding.consent.not-linked')] : link.state === 'revoked' ? [errorWords(linkProblem(link), locale, 'bot')] : []),
      ].join(' ');
      const relink = link.state === 'revoked' ? [linkButtonRow(t(locale, 'bot.error.button.link-again'))] : [];
      await interaction.reply({ content: `${t(locale, 'branding.consent.text')}\n\n${joined}`, components: relink, flags: MessageFlags.Ephemeral });
      return;
    }
    const was = await services.branding.consent.leave(guildId, interaction.user.id);
    await services.scheduler.refresh(interaction.user.id); // personal schedules take over again
    await interaction.reply({ content: t(locale, was ? 'branding.consent.left' : 'branding.consent.not-joined'), flags: MessageFlags.Ephemeral });
  },
};
