/** What the /schedule subcommands share: option definitions, saving a record, adding a schedule, the next change in words. */
import { randomUUID } from 'node:crypto';
import { ApplicationCommandOptionType, type APIApplicationCommandStringOption, type ChatInputCommandInteraction } from 'discord.js';
import { checkMinimumInterval, checkScheduleCount, validateSchedule, type Schedule } from '../../src/schedule/engine.js';
import { UserFacingError } from '../../src/errors.js';
import { localeOf, type Locale } from '../../src/i18n/locale.js';
import { changeWords, durationWords, scheduleWords } from '../../src/i18n/schedule-words.js';
import { t } from '../../src/i18n/t.js';
import { plannedChange, spreadOffsetMs, type Team } from '../../src/schedule/plan.js';
import type { Services } from '../../src/services.js';
import { IMAGES_PER_ROTATION, type ScheduleRecord } from '../../src/schedule/store.js';

/**
 * Input bounds (Discord enforces them from the definitions; the dispatcher checks them again before the
 * handler runs). A library name is at most 32 characters once normalised; decomposed accents take more.
 */
const NAME_MAX = 64;

/** A library image or kit, by name (autocompleted from the user's library: both). */
export const imageOption = {
  type: ApplicationCommandOptionType.String,
  name: 'image',
  description: 'A library image or kit',
  required: true,
  autocomplete: true,
  max_length: NAME_MAX,
} as const satisfies APIApplicationCommandStringOption;

/** One of the user's schedules, by id (autocompleted). */
export const scheduleOption = {
  type: ApplicationCommandOptionType.String,
  name: 'schedule',
  description: 'Which schedule',
  required: true,
  autocomplete: true,
  max_length: 32,
} as const satisfies APIApplicationCommandStringOption;

/** A /schedule subcommand: its handler, after the reply was deferred (and the link checked where it writes). */
export type SubcommandHandler = (interaction: ChatInputCommandInteraction, services: Services, locale: Locale) => Promise<void>;

/** When the next change will really happen: held back by the minimum interval or a retry, moved by the user's spread offset, team seasons included. */
export function nextChangeText(locale: Locale, services: Services, userId: string, record: ScheduleRecord, teams: Team[], now = new Date()): string {
  if (record.suspended) return t(locale, 'schedule.next.suspended');
  const next = plannedChange(record, teams, now, services.config.scheduleMinIntervalMs, spreadOffsetMs(userId, services.config.scheduleSpreadS * 1000));
  if (!next) return t(locale, 'schedule.next.none');
  const change = changeWords(locale, next, record.timezone);
  if (next.heldBack === 'minimum-interval') return t(locale, 'schedule.next.held-interval', { change, duration: durationWords(locale, services.config.scheduleMinIntervalMs) });
  return next.heldBack === 'retry' ? t(locale, 'schedule.next.held-retry', { change }) : change;
}

/** Store a new or changed record, then let every process re-plan and apply what is due now. */
export async function save(interaction: ChatInputCommandInteraction, services: Services, change: (record: ScheduleRecord) => void, done: string): Promise<void> {
  const locale = localeOf(interaction.locale);
  const record = await services.scheduler.edit(interaction.user.id, change);
  const teams = await services.branding.seasons.forMember(interaction.user.id);
  await interaction.editReply({ content: t(locale, 'schedule.saved', { done, next: nextChangeText(locale, services, interaction.user.id, record, teams) }) });
}

export async function addSchedule(interaction: ChatInputCommandInteraction, services: Services, schedule: Schedule, startedAt?: string): Promise<void> {
  const locale = localeOf(interaction.locale);
  const userId = interaction.user.id;
  const record = await services.schedules.get(userId);
  checkScheduleCount(record);
  if (schedule.kind === 'rotation' && schedule.images.length > IMAGES_PER_ROTATION) {
    throw new UserFacingError('rotation-too-long', { max: IMAGES_PER_ROTATION, count: schedule.images.length });
  }
  validateSchedule(schedule, record.timezone);
  checkMinimumInterval(schedule, services.config.scheduleMinIntervalMs);
  for (const image of schedule.kind === 'rotation' ? schedule.images : [schedule.image]) await requireTarget(services, userId, image);
  // Checked again inside the locked update: two concurrent adds must not pass the cap between them.
  const add = (draft: ScheduleRecord) => {
    checkScheduleCount(draft);
    draft.schedules.push(schedule);
  };
  const words = { schedule: scheduleWords(locale, schedule, record.timezone), zone: record.timezone ?? 'UTC' };
  await save(interaction, services, add, startedAt === undefined ? t(locale, 'schedule.added', words) : t(locale, 'schedule.added-starts-now', { ...words, at: startedAt }));
}

/** The name as stored of the user's image or kit called `name`; LibraryError('not-found') when they have neither. */
export async function requireTarget(services: Services, userId: string, name: string): Promise<string> {
  const kit = await services.library.getKit(userId, name);
  return kit ? kit.name : (await services.library.require(userId, name)).name;
}

export function findSchedule(record: ScheduleRecord, id: string): Schedule {
  const schedule = record.schedules.find((candidate) => candidate.id === id);
  if (!schedule) throw new UserFacingError('schedule-not-found');
  return schedule;
}

/** A new schedule's id and creation instant. */
export const base = () => ({ id: randomUUID().slice(0, 6), createdAt: new Date().toISOString() });
