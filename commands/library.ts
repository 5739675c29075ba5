/** /library add | kit | list | remove: named images and kits for schedules and pushes */
import {
  ApplicationCommandOptionType,
  EmbedBuilder,
  MessageFlags,
  type APIApplicationCommandStringOption,
  type Attachment,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { normalisedAttachment, normalisedImage, type ImageOptions } from '../src/bot/attachment.js';
import type { StoredImage } from '../src/avatar/history.js';
import type { KitItem } from '../src/library/store.js';
import { PROFILE_TEXT_LIMITS } from '../src/profile/text.js';
import type { Services } from '../src/services.js';
import type { Locale } from '../src/i18n/locale.js';
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

/** Discord counts UTF-16 units, X graphemes (a family emoji is 8 units): the limit is checked in graphemes. */
const TEMPLATE_INPUT_FACTOR = 4;

/** One of a kit's images, normalised for its part with the command's crop and background. */
async function kitImage(attachment: Attachment, part: 'avatar' | 'banner', options: Omit<ImageOptions, 'image'>, services: Services): Promise<StoredImage> {
  const { data, format } = await normalisedImage(attachment, part, options, services);
  return { data, format };
}

/** The parts of a kit, in words: "avatar, banner, name: 🎃 {name}". */
function kitSummary(kit: KitItem, locale: Locale): string {
  return [
    kit.avatar ? t(locale, 'library.kit.part.avatar') : '',
    kit.banner ? t(locale, 'library.kit.part.banner') : '',
    kit.nameTemplate !== undefined ? t(locale, 'library.kit.part.name', { template: kit.nameTemplate }) : '',
    kit.bioTemplate !== undefined ? t(locale, 'library.kit.part.bio', { template: kit.bioTemplate }) : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

// Descriptions are the catalogue's (command.library.*); those here are for readers.
const definition = {
  name: 'library',
  ...EVERYWHERE,
  description: 'Your named images for scheduled avatars',
  options: [
    { type: ApplicationCommandOptionType.Subcommand, name: 'add', description: 'Store an image under a name', options: [nameOption, imageAttachmentOption, cropOption, backgroundOption] },
    { type: ApplicationCommandOptionType.Subcommand, name: 'kit', description: 'Store a kit: any of an avatar, a banner, a name and a bio',
      options: [
        { type: ApplicationCommandOptionType.String, name: 'name', description: 'A name like halloween or team-nova', required: true, max_length: NAME_INPUT_MAX },
        { type: ApplicationCommandOptionType.Attachment, name: 'avatar', description: 'The avatar image of the kit' },
        { type: ApplicationCommandOptionType.Attachment, name: 'banner', description: 'The banner image of the kit (1500x500 is best)' },
        { type: ApplicationCommandOptionType.String, name: 'name-template', description: 'The display name: {name} is each person’s own, like 🎃 {name}', max_length: PROFILE_TEXT_LIMITS.name * TEMPLATE_INPUT_FACTOR },
        { type: ApplicationCommandOptionType.String, name: 'bio-template', description: 'The bio: {bio} is each person’s own', max_length: PROFILE_TEXT_LIMITS.description * TEMPLATE_INPUT_FACTOR },
        cropOption,
        backgroundOption,
      ],
    },
    { type: ApplicationCommandOptionType.Subcommand, name: 'list', description: 'Show your images and kits' },
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
      case 'kit': {
        const { name, avatar, banner, crop, background } = invocation.options;
        const nameTemplate = invocation.options['name-template'];
        const bioTemplate = invocation.options['bio-template'];
        // Before downloading: no link, no room, a taken name or no part means nothing is fetched or stored.
        await services.links.requireWorking(userId);
        await services.library.checkKit(userId, name, { avatar: avatar !== undefined, banner: banner !== undefined, nameTemplate, bioTemplate });
        const imageOptions = { crop, background };
        const kit = await services.library.addKit(userId, name, {
          ...(avatar ? { avatar: await kitImage(avatar, 'avatar', imageOptions, services) } : {}),
          ...(banner ? { banner: await kitImage(banner, 'banner', imageOptions, services) } : {}),
          ...(nameTemplate !== undefined ? { nameTemplate } : {}),
          ...(bioTemplate !== undefined ? { bioTemplate } : {}),
        });
        await interaction.editReply({ content: t(locale, 'library.kit.saved', { name: kit.name, parts: kitSummary(kit, locale) }) });
        return;
      }
      case 'list': {
        const items = await services.library.list(userId);
        const kits = await services.library.kits(userId);
        const kitLines = kits.map((kit) => t(locale, 'library.kit.line', { name: kit.name, parts: kitSummary(kit, locale) }));
        if (items.length === 0 && kits.length === 0) {
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
        const kitList = kitLines.length ? `\n${t(locale, 'library.kit.count', { count: kits.length })}\n${listWithMore(kitLines, 1500, { separator: '\n', more: (count) => t(locale, 'common.and-more', { count }) })}` : '';
        await interaction.editReply({ content: `${t(locale, 'library.count', { count: items.length })}${more}${kitList}`, embeds, files });
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
