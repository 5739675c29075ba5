/** /schedule timezone | season | default | rotate | event | list | preview | pause | resume | remove | notify */
import { randomUUID } from 'node:crypto';
import { ApplicationCommandOptionType, ChannelType, MessageFlags, type APIApplicationCommandBasicOption, type ChatInputCommandInteraction } from 'discord.js';
import { EVERYWHERE, type SlashCommand } from '../src/bot/command.js';
import {
  checkMinimumInterval,
  checkScheduleCount,
  createEvent,
  formatInZone,
  pinEvents,
  previewDate,
  searchTimeZones,
  validateSchedule,
  validateTimeZone,
  type Schedule,
} from '../src/schedule/engine.js';
import { checkNoticeChannel } from '../src/bot/notify.js';
import { listWithMore, truncate } from '../src/bot/replies.js';
import { UserFacingError } from '../src/errors.js';
import { localizedDefinition } from '../src/i18n/commands.js';
import { localeOf, type Locale } from '../src/i18n/locale.js';
import { changeWords, durationWords, failureWords, ruleWords, scheduleWords } from '../src/i18n/schedule-words.js';
import { t } from '../src/i18n/t.js';
import { plannedChange, type Team } from '../src/schedule/plan.js';
import type { Services } from '../src/services.js';
import { IMAGES_PER_ROTATION, type ScheduleRecord } from '../src/store/schedules.js';

/**
 * Input bounds (Discord enforces them from the definitions; the dispatcher checks them again before the
 * handler runs). A library name is at most 32 characters once normalised; decomposed accents take more.
 */
const NAME_MAX = 64;
/** 100 names of up to 32 characters with ", " between them would be 3,400: a rotation that long is a mistake. */
const IMAGES_MAX = 2000;
const ROTATION_IMAGES_MAX = 100;

const imageOption = (description: string): APIApplicationCommandBasicOption => ({
  type: ApplicationCommandOptionType.String,
  name: 'image',
  description,
  required: true,
  autocomplete: true,
  max_length: NAME_MAX,
});
const scheduleOption: APIApplicationCommandBasicOption = {
  type: ApplicationCommandOptionType.String,
  name: 'schedule',
  description: 'Which schedule',
  required: true,
  autocomplete: true,
  max_length: 32,
};

/** One line of /schedule list: many schedules must fit in 2,000 characters. */
const LIST_LINE_CHARS = 300;

/** When the next change will really happen: held back by the minimum interval or a retry, team seasons included. */
function nextChangeText(locale: Locale, services: Services, record: ScheduleRecord, teams: Team[], now = new Date()): string {
  if (record.suspended) return t(locale, 'schedule.next.suspended');
  const next = plannedChange(record, teams, now, services.config.scheduleMinIntervalMs);
  if (!next) return t(locale, 'schedule.next.none');
  const change = changeWords(locale, next, record.timezone);
  if (next.heldBack === 'minimum-interval') return t(locale, 'schedule.next.held-interval', { change, duration: durationWords(locale, services.config.scheduleMinIntervalMs) });
  return next.heldBack === 'retry' ? t(locale, 'schedule.next.held-retry', { change }) : change;
}

/** Store a new or changed record, then let every process re-plan and apply what is due now. */
async function save(interaction: ChatInputCommandInteraction, services: Services, change: (record: ScheduleRecord) => void, done: string): Promise<void> {
  const locale = localeOf(interaction.locale);
  const record = await services.schedules.update(interaction.user.id, change);
  await services.scheduler.refresh(interaction.user.id);
  const teams = await services.branding.seasons.forMember(interaction.user.id);
  await interaction.editReply({ content: t(locale, 'schedule.saved', { done, next: nextChangeText(locale, services, record, teams) }) });
}

async function addSchedule(interaction: ChatInputCommandInteraction, services: Services, schedule: Schedule, startedAt?: string): Promise<void> {
  const locale = localeOf(interaction.locale);
  const userId = interaction.user.id;
  const record = await services.schedules.get(userId);
  checkScheduleCount(record);
  if (schedule.kind === 'rotation' && schedule.images.length > IMAGES_PER_ROTATION) {
    throw new UserFacingError('rotation-too-long', { max: IMAGES_PER_ROTATION, count: schedule.images.length });
  }
  validateSchedule(schedule, record.timezone);
  checkMinimumInterval(schedule, services.config.scheduleMinIntervalMs);
  for (const image of schedule.kind === 'rotation' ? schedule.images : [schedule.image]) await services.library.require(userId, image);
  // Checked again inside the locked update: two concurrent adds must not pass the cap between them.
  const add = (draft: ScheduleRecord) => {
    checkScheduleCount(draft);
    draft.schedules.push(schedule);
  };
  const words = { schedule: scheduleWords(locale, schedule, record.timezone), zone: record.timezone ?? 'UTC' };
  await save(interaction, services, add, startedAt === undefined ? t(locale, 'schedule.added', words) : t(locale, 'schedule.added-starts-now', { ...words, at: startedAt }));
}

function findSchedule(record: ScheduleRecord, id: string): Schedule {
  const schedule = record.schedules.find((candidate) => candidate.id === id);
  if (!schedule) throw new UserFacingError('schedule-not-found');
  return schedule;
}

const LINKED_WRITES = new Set(['timezone', 'season', 'default', 'rotate', 'event', 'notify']);

const base = () => ({ id: randomUUID().slice(0, 6), createdAt: new Date().toISOString() });

export const scheduleCommand: SlashCommand = {
  // Descriptions and choice names are the catalogue's (command.schedule.*); those here are for readers.
  definition: localizedDefinition({
    name: 'schedule',
    ...EVERYWHERE,
    description: 'Change your X avatar on a schedule',
    options: [
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'timezone',
        description: 'Your time zone for all schedules (default UTC)',
        options: [{ type: ApplicationCommandOptionType.String, name: 'zone', description: 'An IANA name like Europe/Berlin', required: true, autocomplete: true, max_length: 64 }],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'season',
        description: 'An image for a range of days every year',
        options: [
          imageOption('A library image'),
          { type: ApplicationCommandOptionType.String, name: 'from', description: 'First day, MM-DD', required: true, min_length: 5, max_length: 5 },
          { type: ApplicationCommandOptionType.String, name: 'to', description: 'Last day, MM-DD (may wrap the new year)', required: true, min_length: 5, max_length: 5 },
          { type: ApplicationCommandOptionType.Integer, name: 'priority', description: 'Higher wins when seasons overlap (default 0)' },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'default',
        description: 'The image when no season, rotation or event applies',
        options: [imageOption('A library image')],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'rotate',
        description: 'Rotate through images',
        options: [
          { type: ApplicationCommandOptionType.String, name: 'images', description: 'Library names separated by commas', required: true, max_length: IMAGES_MAX },
          { type: ApplicationCommandOptionType.String, name: 'every', description: 'hourly, daily, weekly or a cron expression', required: true, max_length: 100 },
          { type: ApplicationCommandOptionType.String, name: 'order', description: 'sequence (default) or random', choices: [{ name: 'sequence', value: 'sequence' }, { name: 'random', value: 'random' }] },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'event',
        description: 'An image for a one-off moment',
        options: [
          imageOption('A library image'),
          { type: ApplicationCommandOptionType.String, name: 'at', description: 'YYYY-MM-DD HH:MM in your time zone', required: true, max_length: 40 },
          { type: ApplicationCommandOptionType.String, name: 'until', description: 'YYYY-MM-DD HH:MM; afterwards the usual image comes back', max_length: 40 },
        ],
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'list', description: 'Your schedules and the next change' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'preview',
        description: 'Which image would be active on a day',
        options: [{ type: ApplicationCommandOptionType.String, name: 'date', description: 'YYYY-MM-DD', required: true, min_length: 10, max_length: 10 }],
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'pause', description: 'Pause a schedule', options: [scheduleOption] },
      { type: ApplicationCommandOptionType.Subcommand, name: 'resume', description: 'Resume a paused schedule', options: [scheduleOption] },
      { type: ApplicationCommandOptionType.Subcommand, name: 'remove', description: 'Remove a schedule', options: [scheduleOption] },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'notify',
        description: 'Where to tell you about scheduled changes',
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'where',
            description: 'dm (default), channel or off',
            required: true,
            choices: [{ name: 'dm', value: 'dm' }, { name: 'channel', value: 'channel' }, { name: 'off', value: 'off' }],
          },
          { type: ApplicationCommandOptionType.Channel, name: 'channel', description: 'The channel, with where:channel', channel_types: [ChannelType.GuildText] },
        ],
      },
    ],
  }),

  async execute(interaction, services) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const locale = localeOf(interaction.locale);
    const userId = interaction.user.id;
    const options = interaction.options;
    // Writes that add to what is stored need a linked account; pause, resume and remove only touch what exists.
    if (LINKED_WRITES.has(options.getSubcommand())) await services.vault.require(userId);
    switch (options.getSubcommand()) {
      case 'timezone': {
        const zone = validateTimeZone(options.getString('zone', true).trim());
        // Events stored as wall clock are pinned in the old zone first: a zone change never moves or repeats them.
        const change = (draft: ScheduleRecord) => {
          pinEvents(draft);
          draft.timezone = zone;
        };
        return await save(interaction, services, change, t(locale, 'schedule.timezone-set', { zone, now: formatInZone(new Date(), zone, { locale }) }));
      }
      case 'season':
        return await addSchedule(interaction, services, {
          ...base(),
          kind: 'season',
          image: options.getString('image', true),
          from: options.getString('from', true),
          to: options.getString('to', true),
          priority: options.getInteger('priority') ?? 0,
        });
      case 'default': {
        const item = await services.library.require(userId, options.getString('image', true));
        return await save(interaction, services, (draft) => void (draft.defaultImage = item.name), t(locale, 'schedule.default-set', { image: item.name }));
      }
      case 'rotate': {
        const images = options.getString('images', true).split(',').map((name) => name.trim()).filter(Boolean);
        if (images.length > ROTATION_IMAGES_MAX) {
          throw new UserFacingError('rotation-list-too-long', { max: ROTATION_IMAGES_MAX, count: images.length });
        }
        return await addSchedule(interaction, services, {
          ...base(),
          kind: 'rotation',
          images,
          every: options.getString('every', true).trim(),
          order: (options.getString('order') ?? 'sequence') as 'sequence' | 'random',
        });
      }
      case 'event': {
        const until = options.getString('until') ?? undefined;
        const { timezone } = await services.schedules.get(userId);
        const input = { ...base(), image: options.getString('image', true), at: options.getString('at', true).trim(), ...(until ? { until: until.trim() } : {}) };
        const { event, startsNow } = createEvent(input, timezone ?? 'UTC', new Date());
        return await addSchedule(interaction, services, event, startsNow ? input.at : undefined);
      }
      case 'list': {
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
        const lastRun = record.lastRun && { detail: truncate(record.lastRun.outcome === 'failed' ? failureWords(locale, record.lastRun.detail) : String(record.lastRun.detail), 200), when: `<t:${Math.floor(Date.parse(record.lastRun.at) / 1000)}:R>` };
        await interaction.editReply({
          content: [
            lines.length ? listWithMore(lines, 1200, { separator: '\n', more }) : t(locale, 'schedule.list.empty'),
            listWithMore(teamLines, 400, { separator: '\n', more: (count) => t(locale, 'schedule.list.more-team-seasons', { count }) }),
            record.defaultImage ? t(locale, 'schedule.list.default-image', { image: record.defaultImage }) : '',
            t(locale, 'schedule.list.settings', { zone: record.timezone ?? 'UTC', notify }),
            t(locale, 'schedule.list.next', { next: nextChangeText(locale, services, record, teams) }),
            lastRun ? t(locale, record.lastRun?.outcome === 'applied' ? 'schedule.list.last-applied' : 'schedule.list.last-failed', lastRun) : '',
          ]
            .filter(Boolean)
            .join('\n'),
        });
        return;
      }
      case 'preview': {
        const date = options.getString('date', true);
        const preview = previewDate(await services.schedules.get(userId), date, new Date());
        const rule = ruleWords(locale, preview.rule);
        await interaction.editReply({ content: preview.image ? t(locale, 'schedule.preview.image', { date, image: preview.image, rule }) : t(locale, 'schedule.preview.nothing', { rule }) });
        return;
      }
      case 'pause':
      case 'resume': {
        const paused = options.getSubcommand() === 'pause';
        const id = options.getString('schedule', true);
        findSchedule(await services.schedules.get(userId), id);
        return await save(interaction, services, (draft) => void (findSchedule(draft, id).paused = paused || undefined), t(locale, paused ? 'schedule.paused' : 'schedule.resumed', { id }));
      }
      case 'remove': {
        const id = options.getString('schedule', true);
        const record = await services.schedules.get(userId);
        const schedule = findSchedule(record, id);
        return await save(interaction, services, (draft) => void (draft.schedules = draft.schedules.filter((candidate) => candidate.id !== id)), t(locale, 'schedule.removed', { schedule: scheduleWords(locale, schedule, record.timezone) }));
      }
      case 'notify': {
        const where = options.getString('where', true);
        const channel = options.getChannel('channel');
        if (where === 'channel' && !channel) throw new UserFacingError('channel-missing');
        if (where === 'channel') checkNoticeChannel(interaction, channel!);
        const notify = where === 'channel' ? { mode: 'channel' as const, channelId: channel!.id } : { mode: where as 'dm' | 'off' };
        await services.schedules.update(userId, (draft) => void (draft.notify = notify));
        await interaction.editReply({
          content: where === 'channel' ? t(locale, 'schedule.notify.channel', { channel: channel!.id }) : t(locale, where === 'off' ? 'schedule.notify.off' : 'schedule.notify.dm'),
        });
        return;
      }
    }
  },

  async autocomplete(interaction, services) {
    const focused = interaction.options.getFocused(true);
    if (focused.name === 'zone') return searchTimeZones(focused.value).map((zone) => ({ name: zone, value: zone }));
    if (focused.name === 'schedule') {
      const record = await services.schedules.get(interaction.user.id);
      return record.schedules
        .map((schedule) => ({ name: `${schedule.id} ${scheduleWords(localeOf(interaction.locale), schedule, record.timezone)}`.slice(0, 100), value: schedule.id }))
        .filter((choice) => choice.name.toLowerCase().includes(focused.value.toLowerCase()));
    }
    const names = await services.library.search(interaction.user.id, focused.value);
    return names.map((name) => ({ name, value: name }));
  },
};
