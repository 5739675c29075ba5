/**
 * /schedule timezone | season | default | rotate | event | list | preview | pause | resume | remove | notify | overwrite:
 * one file per subcommand (its definition and its handler); the command's definition is read as data from them.
 */
import { MessageFlags, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { EVERYWHERE, onButton, type SlashCommand } from '../../src/bot/command.js';
import { UserFacingError } from '../../src/errors.js';
import { resumePaused } from '../../src/schedule/hand-changes.js';
import { t } from '../../src/i18n/t.js';
import { subcommandOf } from '../../src/bot/options.js';
import { searchTimeZones } from '../../src/schedule/engine.js';
import { localizedDefinition } from '../../src/i18n/commands.js';
import { localeOf } from '../../src/i18n/locale.js';
import { scheduleWords } from '../../src/i18n/schedule-words.js';
import * as defaultImage from './default.js';
import * as event from './event.js';
import * as list from './list.js';
import * as notify from './notify.js';
import * as overwrite from './overwrite.js';
import * as pause from './pause.js';
import * as preview from './preview.js';
import * as remove from './remove.js';
import * as resume from './resume.js';
import * as rotate from './rotate.js';
import * as season from './season.js';
import type { SubcommandHandler } from './shared.js';
import { imageOption, nextChangeText, scheduleOption } from './shared.js';
import * as timezone from './timezone.js';

// Descriptions and choice names are the catalogue's (command.schedule.*); those here are for readers.
const definition = {
  name: 'schedule',
  ...EVERYWHERE,
  description: 'Change your X avatar on a schedule',
  options: [
    timezone.subcommand,
    season.subcommand,
    defaultImage.subcommand,
    rotate.subcommand,
    event.subcommand,
    list.subcommand,
    preview.subcommand,
    pause.subcommand,
    resume.subcommand,
    remove.subcommand,
    notify.subcommand,
    overwrite.subcommand,
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

type Subcommand = (typeof definition.options)[number]['name'];

const handlers: { [Name in Subcommand]: SubcommandHandler } = {
  timezone: timezone.run,
  season: season.run,
  default: defaultImage.run,
  rotate: rotate.run,
  event: event.run,
  list: list.run,
  preview: preview.run,
  pause: pause.run,
  resume: resume.run,
  remove: remove.run,
  notify: notify.run,
  overwrite: overwrite.run,
};

/**
 * Issue 12: the Resume button of the notice that a hand change on X paused a schedule (`schedule:resume:<id>`,
 * `default` for the default image). It resumes the presser's own schedule of that id, accepting the avatar X
 * showed, and re-plans: what is due now is applied at once.
 */
const resumeButton = onButton(async (interaction, services, id) => {
  const locale = localeOf(interaction.locale);
  let outcome: ReturnType<typeof resumePaused> = 'not-found';
  const record = await services.scheduler.edit(interaction.user.id, (draft) => void (outcome = resumePaused(draft, id)));
  if (outcome === 'not-found') throw new UserFacingError('schedule-not-found');
  const teams = await services.branding.seasons.forMember(interaction.user.id);
  const done = t(locale, outcome === 'resumed' ? 'schedule.resumed' : 'schedule.not-paused', { id });
  await interaction.update({ content: `${interaction.message.content}\n\n${t(locale, 'schedule.saved', { done, next: nextChangeText(locale, services, interaction.user.id, record, teams) })}`, components: [] });
});

/** Writes that add to what is stored need a working link (not revoked); pause, resume and remove only touch what exists. */
const LINKED_WRITES = new Set<Subcommand>(['timezone', 'season', 'default', 'rotate', 'event', 'notify']);

export const scheduleCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  async execute(interaction, services) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const subcommand = subcommandOf(definition, interaction);
    if (LINKED_WRITES.has(subcommand)) await services.links.requireWorking(interaction.user.id);
    await handlers[subcommand](interaction, services, localeOf(interaction.locale));
  },

  components: { resume: resumeButton },

  async autocomplete(interaction, services) {
    const focused = interaction.options.getFocused(true);
    if (focused.name === timezone.zoneOption.name) return searchTimeZones(focused.value).map((zone) => ({ name: zone, value: zone }));
    if (focused.name === scheduleOption.name) {
      const record = await services.schedules.get(interaction.user.id);
      return record.schedules
        .map((schedule) => ({ name: `${schedule.id} ${scheduleWords(localeOf(interaction.locale), schedule, record.timezone)}`.slice(0, 100), value: schedule.id }))
        .filter((choice) => choice.name.toLowerCase().includes(focused.value.toLowerCase()));
    }
    if (focused.name !== imageOption.name) return [];
    const names = await services.library.search(interaction.user.id, focused.value);
    return names.map((name) => ({ name, value: name }));
  },
};
