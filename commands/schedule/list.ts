/** /schedule list: the user's schedules, team seasons, settings, the next change and the last run. */
import { ApplicationCommandOptionType, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { listWithMore, truncate } from '../../src/bot/replies.js';
import { failureWords, scheduleWords } from '../../src/i18n/schedule-words.js';
import { t } from '../../src/i18n/t.js';
import { commandMention } from '../../src/i18n/commands.js';
import { nextChangeText, type SubcommandHandler } from './shared.js';

/** One line of /schedule list: many schedules must fit in 2,000 characters. */
const LIST_LINE_CHARS = 300;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'list',
  description: 'Your schedules and the next change',
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  const userId = interaction.user.id;
  const record = await services.schedules.get(userId);
  const lines = record.schedules.map((schedule) => truncate(`\`${schedule.id}\` ${scheduleWords(locale, schedule, record.timezone, LIST_LINE_CHARS - 100)}`, LIST_LINE_CHARS));
  const teams = await services.branding.seasons.forMember(userId);
  const teamLines = teams.flatMap((team) =>
    team.seasons.map((teamSeason) =>
      t(locale, 'schedule.list.team-season', {
        server: interaction.client.guilds.cache.get(team.guildId)?.name ?? t(locale, 'schedule.list.unknown-server', { id: team.guildId }),
        from: teamSeason.from,
        to: teamSeason.to,
      }),
    ),
  );
  const notify =
    record.notify.mode === 'channel'
      ? t(locale, 'schedule.list.notify-channel', { channel: record.notify.channelId })
      : t(locale, record.notify.mode === 'dm' ? 'schedule.list.notify-dm' : 'schedule.list.notify-off');
  const more = (count: number) => t(locale, 'schedule.list.more', { count });
  // A failure is data, worded here in the reader's language (an old record's English sentence as it is).
  const lastRun = record.lastRun && {
    detail: truncate(record.lastRun.outcome === 'failed' ? failureWords(locale, record.lastRun.detail) : String(record.lastRun.detail), 200),
    when: `<t:${Math.floor(Date.parse(record.lastRun.at) / 1000)}:R>`,
  };
  await interaction.editReply({
    content: [
      lines.length ? listWithMore(lines, 1200, { separator: '\n', more }) : t(locale, 'schedule.list.empty'),
      listWithMore(teamLines, 400, { separator: '\n', more: (count) => t(locale, 'schedule.list.more-team-seasons', { count }) }),
      record.defaultImage ? t(locale, record.defaultPaused ? 'schedule.list.default-image-paused' : 'schedule.list.default-image', { image: record.defaultImage }) : '',
      t(locale, 'schedule.list.settings', { zone: record.timezone ?? 'UTC', notify }),
      record.overwriteHandChanges ? t(locale, 'schedule.list.overwrite-on', { command: commandMention(locale, 'schedule overwrite') }) : '',
      t(locale, 'schedule.list.next', { next: nextChangeText(locale, services, userId, record, teams) }),
      lastRun ? t(locale, record.lastRun?.outcome === 'applied' ? 'schedule.list.last-applied' : 'schedule.list.last-failed', lastRun) : '',
    ]
      .filter(Boolean)
      .join('\n'),
  });
};
