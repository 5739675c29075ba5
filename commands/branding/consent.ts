/** /branding-consent join | leave: every member's own say. */
import { ApplicationCommandOptionType, MessageFlags, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { SERVER_ONLY, type SlashCommand } from '../../src/bot/command.js';
import { invocationOf } from '../../src/bot/options.js';
import { PROFILE_PARTS } from '../../src/profile/parts.js';
import { partsWords } from './common.js';
import { askComponents } from './ask.js';
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
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: 'join',
      description: 'Allow this server’s admins to set your X avatar',
      // Each part its own choice; without any, the avatar only (as before parts existed). Joining again replaces them.
      options: [
        { type: ApplicationCommandOptionType.Boolean, name: 'avatar', description: 'Admins may set your avatar (default yes)' },
        { type: ApplicationCommandOptionType.Boolean, name: 'banner', description: 'Admins may set your banner (default no)' },
        { type: ApplicationCommandOptionType.Boolean, name: 'name', description: 'Admins may set your display name (default no)' },
        { type: ApplicationCommandOptionType.Boolean, name: 'bio', description: 'Admins may set your bio (default no)' },
      ],
    },
    { type: ApplicationCommandOptionType.Subcommand, name: 'leave', description: 'Withdraw that permission now' },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const brandingConsentCommand: SlashCommand = {
  definition: localizedDefinition(definition),
  components: askComponents,

  async execute(interaction, services) {
    const locale = localeOf(interaction.locale);
    const guildId = requireGuild(interaction);
    const invocation = invocationOf(definition, interaction);
    if (invocation.subcommand === 'join') {
      const chosen = { ...invocation.options, avatar: invocation.options.avatar ?? true };
      const parts = PROFILE_PARTS.filter((part) => chosen[part] === true);
      if (parts.length === 0) {
        await interaction.reply({ content: t(locale, 'branding.consent.no-parts'), flags: MessageFlags.Ephemeral });
        return;
      }
      const link = await services.links.state(interaction.user.id);
      if (link.state === 'damaged') services.logger.warn({ err: link.error, user: interaction.user.id }, 'a stored X link cannot be opened');
      await services.branding.consent.join(guildId, interaction.user.id, parts);
      await services.scheduler.edit(interaction.user.id); // the server's team season, if one is active
      const joined = [
        t(locale, 'branding.consent.joined'),
        // A revoked link is told as every command tells it (the error's words and a "Link again" button).
        ...(link.state === 'damaged' ? [t(locale, 'branding.consent.damaged')] : link.state === 'not-linked' ? [t(locale, 'branding.consent.not-linked')] : link.state === 'revoked' ? [errorWords(linkProblem(link), locale, 'bot')] : []),
      ].join(' ');
      const relink = link.state === 'revoked' ? [linkButtonRow(t(locale, 'bot.error.button.link-again'))] : [];
      const others = PROFILE_PARTS.filter((part) => !parts.includes(part));
      // Exactly which parts: the text of before parts for the avatar alone, then the parts allowed and not.
      const text = parts.length === 1 && parts[0] === 'avatar' ? t(locale, 'branding.consent.text') : t(locale, 'branding.consent.text-parts', { parts: partsWords(parts, locale) });
      const which = others.length ? t(locale, 'branding.consent.parts-not', { parts: partsWords(parts, locale), others: partsWords(others, locale) }) : t(locale, 'branding.consent.parts', { parts: partsWords(parts, locale) });
      await interaction.reply({ content: `${text}\n${which}\n\n${joined}`, components: relink, flags: MessageFlags.Ephemeral });
      return;
    }
    const was = await services.branding.consent.leave(guildId, interaction.user.id);
    await services.scheduler.refresh(interaction.user.id); // personal schedules take over again
    await interaction.reply({ content: t(locale, was ? 'branding.consent.left' : 'branding.consent.not-joined'), flags: MessageFlags.Ephemeral });
  },
};
