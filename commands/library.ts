/** /library add | list | remove: named images for schedules */
import { ApplicationCommandOptionType, EmbedBuilder, MessageFlags, type APIApplicationCommandStringOption, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { normalisedAttachment } from '../src/bot/attachment.js';
import { EVERYWHERE, type SlashCommand } from '../src/bot/command.js';
import { backgroundOption, cropOption, imageAttachmentOption, invocationOf } from '../src/bot/options.js';
import { avatarFile, BRAND_COLOUR, listWithMore } from '../src/bot/replies.js';
import { localizedDefinition } from '../src/i18n/commands.js';
import { localeOf } from '../src/i18n/locale.js';
import { t } from '../src/i18n/t.js';

/** Names are at most 32 characters once normalised (NFC); typed with decomposed accents they can be longer. */
const NAME_INPUT_MAX = 64;

const nameOption = { type: ApplicationCommandOptionType.String, name: 'name', description: 'A name like winter or birthday', required: true, max_length: NAME_INPUT_MAX } as const satisfies APIApplicationCommandStringOption;
const removedOption = { type: ApplicationCommandOptionType.String, name: 'name', description: 'The image to remove', required: true, autocomplete: true, max_length: NAME_INPUT_MAX } as const satisfies APIApplicationCommandStringOption;

// Descriptions are the catalogue's (command.library.*); those here are for readers.
const definition = {
  name: 'library',
  ...EVERYWHERE,
  description: 'Your named images for scheduled avatars',
  options: [
    { type: ApplicationCommandOptionType.Subcommand, name: 'add', description: 'Store an image under a name', options: [nameOption, imageAttachmentOption, cropOption, backgroundOption] },
    { type: ApplicationCommandOptionType.Subcommand, name: 'list', description: 'Show your images' },
    { type: ApplicationCommandOptionType.Subcommand, name: 'remove', description: 'Remove an image', options: [removedOption] },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const libraryCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  async execute(interaction, services) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const userId = interaction.user.id;
    const locale = localeOf(interaction.locale);
    const invocation = invocationOf(definition, interaction);
    switch (invocation.subcommand) {
      case 'add': {
        const { name } = invocation.options;
        // Before downloading: no link, no room or a taken name means nothing is fetched or stored.
        await services.links.requireWorking(userId);
        await services.library.checkRoom(userId, name);
        const { avatar } = await normalisedAttachment(invocation.options, services);
        const item = await services.library.add(userId, name, { data: avatar.data, format: avatar.format });
        const file = avatarFile(avatar, 'library');
        await interaction.editReply({
          content: t(locale, 'library.saved', { name: item.name }),
          embeds: [new EmbedBuilder().setColor(BRAND_COLOUR).setTitle(item.name).setThumbnail(`attachment://${file.name}`)],
          files: [file],
        });
        return;
      }
      case 'list': {
        const items = await services.library.list(userId);
        if (items.length === 0) {
          await interaction.editReply({ content: t(locale, 'library.empty') });
          return;
        }
        const shown = items.slice(0, 10);
        const files = [];
        const embeds = [];
        for (const [index, item] of shown.entries()) {
          const stored = await services.library.get(userId, item.name);
          const embed = new EmbedBuilder().setColor(BRAND_COLOUR).setTitle(item.name).setDescription(t(locale, 'library.added', { date: `<t:${Math.floor(Date.parse(item.addedAt) / 1000)}:d>` }));
          if (stored) {
            const file = avatarFile(stored.image, `library-${index}`);
            files.push(file);
            embed.setThumbnail(`attachment://${file.name}`);
          }
          embeds.push(embed);
        }
        const rest = items.slice(shown.length).map((item) => item.name);
        const more = rest.length ? `\n${t(locale, 'library.also', { names: listWithMore(rest, 1500, { more: (count) => t(locale, 'common.and-more', { count }) }) })}` : '';
        await interaction.editReply({ content: `${t(locale, 'library.count', { count: items.length })}${more}`, embeds, files });
        return;
      }
      case 'remove': {
        const { item, usedBy: users } = await services.library.remove(userId, invocation.options.name);
        await interaction.editReply({
          content: users.length ? t(locale, 'library.removed-in-use', { name: item.name, count: users.length }) : t(locale, 'library.removed', { name: item.name }),
        });
      }
    }
  },

  async autocomplete(interaction, services) {
    const names = await services.library.search(interaction.user.id, interaction.options.getFocused());
    return names.map((name) => ({ name, value: name }));
  },
};
