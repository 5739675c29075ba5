/** /schedule notify: where scheduled changes are announced (DM, a channel, or nowhere). */
import {
  ApplicationCommandOptionType,
  ChannelType,
  type APIApplicationCommandChannelOption,
  type APIApplicationCommandStringOption,
  type APIApplicationCommandSubcommandOption,
} from 'discord.js';
import { checkNoticeChannel } from '../../src/bot/notify.js';
import { choiceOf } from '../../src/bot/options.js';
import { UserFacingError } from '../../src/errors.js';
import { t } from '../../src/i18n/t.js';
import type { NotifySetting } from '../../src/schedule/store.js';
import type { SubcommandHandler } from './shared.js';

const whereOption = {
  type: ApplicationCommandOptionType.String,
  name: 'where',
  description: 'dm (default), channel or off',
  required: true,
  choices: [
    { name: 'dm', value: 'dm' },
    { name: 'channel', value: 'channel' },
    { name: 'off', value: 'off' },
  ],
} as const satisfies APIApplicationCommandStringOption;
const channelOption = { type: ApplicationCommandOptionType.Channel, name: 'channel', description: 'The channel, with where:channel', channel_types: [ChannelType.GuildText] } as const satisfies APIApplicationCommandChannelOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'notify',
  description: 'Where to tell you about scheduled changes',
  options: [whereOption, channelOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  // Required, and one of the choices (checked before any handler runs): DM, the default, otherwise.
  const where = choiceOf(whereOption, interaction.options.getString(whereOption.name, true)) ?? 'dm';
  const channel = interaction.options.getChannel(channelOption.name);
  let notify: NotifySetting;
  if (where === 'channel') {
    // Outside a server (the bot's DM, another DM, a group DM) Discord offers no server channel to pick.
    if (!channel) throw new UserFacingError('channel-missing', {}, interaction.inGuild() ? {} : { variant: 'outside-server' });
    checkNoticeChannel(interaction, channel);
    notify = { mode: 'channel', channelId: channel.id };
  } else {
    notify = { mode: where };
  }
  await services.schedules.setNotify(interaction.user.id, notify); // not part of the plan: no re-plan
  await interaction.editReply({
    content: notify.mode === 'channel' ? t(locale, 'schedule.notify.channel', { channel: notify.channelId }) : t(locale, notify.mode === 'off' ? 'schedule.notify.off' : 'schedule.notify.dm'),
  });
};
