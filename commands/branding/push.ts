/**
 * /branding push: who it reaches, the admin confirms, the push runs with progress, the report follows.
 * An image (the avatar) or a kit from the admin's own library (/library kit): each member gets the parts
 * of it they allowed. Mode `ask`: each member is asked privately first (ask.ts) and only approvals are
 * changed, at the deadline; the report then goes to the admin privately and to the log channel.
 */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ButtonInteraction, type ChatInputCommandInteraction } from 'discord.js';
import { targetsOf, type SkipKind, type Targets } from '../../src/branding/members.js';
import { describeProgress } from '../../src/branding/push.js';
import { normalisedAttachment } from '../../src/bot/attachment.js';
import { finishPush } from '../../src/bot/branding-report.js';
import { confirm } from '../../src/bot/confirm.js';
import { currentMember } from '../../src/bot/membership.js';
import { backgroundOption, cropOption, imageAttachmentOption, type OptionsOf } from '../../src/bot/options.js';
import { avatarFile } from '../../src/bot/replies.js';
import { localeOf, type Locale } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { Services } from '../../src/services.js';
import { partsWords, requireAdmin, requireGuild } from './common.js';
import { askMember } from './ask.js';
import { kitParts } from '../../src/branding/kit-members.js';
import type { Kit } from '../../src/library/store.js';

const CONFIRM_MS = 5 * 60_000;
/** Ask mode: hours members have to answer by default, and at most (a week). */
const ASK_HOURS_DEFAULT = 24;
const ASK_HOURS_MAX = 168;

export const pushSubcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'push',
  description: 'Push one avatar to every member who opted in',
  options: [
    { ...imageAttachmentOption, required: false },
    { type: ApplicationCommandOptionType.String, name: 'kit', description: 'Or a kit of your library (/library kit) instead of an image', autocomplete: true, max_length: 64 },
    {
      type: ApplicationCommandOptionType.String,
      name: 'mode',
      description: 'consented: members’ standing consent (default); ask: each member approves first',
      choices: [
        { name: 'consented', value: 'consented' },
        { name: 'ask', value: 'ask' },
      ],
    },
    { type: ApplicationCommandOptionType.Integer, name: 'deadline', description: 'Ask mode: hours members have to answer (default 24)', min_value: 1, max_value: ASK_HOURS_MAX },
    { type: ApplicationCommandOptionType.Role, name: 'role', description: 'Only members with this role' },
    { type: ApplicationCommandOptionType.String, name: 'label', description: 'A name for this push, e.g. "Launch week"', max_length: 80 },
    cropOption,
    backgroundOption,
  ],
} as const satisfies APIApplicationCommandSubcommandOption;

/** "1 not linked, 2 left the server" in `locale`. */
export function skippedWords(skipped: Targets['skipped'], locale: Locale): string {
  return (Object.entries(skipped) as [SkipKind, string[]][]).map(([kind, users]) => t(locale, `branding.skip.${kind}`, { count: users.length })).join(', ');
}

export async function push(interaction: ChatInputCommandInteraction, services: Services, options: OptionsOf<typeof pushSubcommand>): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { role, image } = options;
  if ((image === undefined) === (options.kit === undefined)) {
    await interaction.editReply({ content: t(locale, 'branding.push.image-or-kit') });
    return;
  }
  // A kit is read (and copied into the job) now: editing it later does not change this push.
  const kit = options.kit === undefined ? undefined : await services.library.getKit(interaction.user.id, options.kit);
  if (options.kit !== undefined && !kit) {
    await interaction.editReply({ content: t(locale, 'branding.push.no-kit', { name: options.kit }) });
    return;
  }
  const avatar = image ? (await normalisedAttachment({ ...options, image }, services)).avatar : undefined; // once, for every member
  const pushed: Kit = kit ?? { name: '', addedAt: '', images: { avatar: { data: avatar!.data, format: avatar!.format } } };
  const parts = kitParts(pushed);
  const ask = options.mode === 'ask';
  const hours = options.deadline ?? ASK_HOURS_DEFAULT;
  const guild = interaction.guild ?? (await interaction.client.guilds.fetch(guildId));
  const { reach, skipped, opted } = await targetsOf(
    guildId,
    {
      linkState: services.links.state,
      consent: services.branding.consent,
      logger: services.logger,
      member: async (userId) => {
        const member = await currentMember(guild, userId, services.branding.consent);
        return member && { hasRole: (roleId: string) => member.roles.cache.has(roleId) };
      },
    },
    role?.id,
    parts,
  );
  const skippedText = skippedWords(skipped, locale);
  if (reach.length === 0) {
    await interaction.editReply({ content: skippedText ? t(locale, 'branding.push.nobody-skipped', { count: opted, skipped: skippedText }) : t(locale, 'branding.push.nobody', { count: opted }) });
    return;
  }
  const click = await confirm(interaction, {
    locale,
    content: [
      kit
        ? t(locale, 'branding.push.reach-kit', { count: reach.length, kit: kit.name, parts: partsWords(parts, locale) })
        : role
          ? t(locale, 'branding.push.reach-role', { count: reach.length, role: role.name })
          : t(locale, 'branding.push.reach', { count: reach.length }),
      ...(kit && role ? [t(locale, 'branding.push.role-only', { role: role.name })] : []),
      ...(skippedText ? [t(locale, 'branding.push.skipped', { skipped: skippedText })] : []),
      ...(ask ? [t(locale, 'branding.push.ask-mode', { hours })] : []),
      t(locale, 'branding.push.ask'),
    ].join(' '),
    files: [...(pushed.images.avatar ? [avatarFile(pushed.images.avatar, 'branding')] : []), ...(pushed.images.banner ? [avatarFile(pushed.images.banner, 'branding-banner')] : [])],
    confirmLabel: t(locale, 'branding.push.confirm', { count: reach.length }),
    ids: (choice, nonce) => `branding-push-${choice}:${nonce}`,
    timeoutMs: CONFIRM_MS,
    timedOut: t(locale, 'branding.push.timed-out'),
    cancelled: t(locale, 'branding.push.cancelled'),
  });
  if (!click) return;
  await click.update({ content: t(locale, ask ? 'branding.push.asking' : 'branding.push.starting', { count: reach.length }), components: [] });
  const label = options.label ?? t(locale, 'branding.push.default-label', { name: interaction.user.username });
  const jobId = await services.branding.pushes.start({
    guildId,
    adminId: interaction.user.id,
    ...(kit ? { kit } : { image: pushed.images.avatar! }),
    ...(ask ? { mode: 'ask' as const, askForMs: hours * 3_600_000 } : {}),
    label,
    targets: reach,
  });
  const guildName = interaction.guild?.name ?? guild.name;
  if (ask) return askAndWait(interaction, click, services, guildId, guildName, jobId, pushed, locale);
  const job = await services.branding.pushes.run(jobId, (progress) => {
    void click.editReply({ content: t(locale, 'branding.pushing', { label, progress: describeProgress(progress, locale) }) }).catch(() => undefined);
  });
  await finishPush(interaction.client, services, guildId, guildName, job, {
    locale,
    send: (summary, report) => click.editReply({ content: summary, files: [report], attachments: [] }).then(() => undefined),
  });
}

/**
 * Ask mode: the questions go out now (the prompt counts them); the push itself runs at the deadline, in
 * the background, and its report goes to the admin privately (the interaction's token lasts 15 minutes,
 * a deadline hours) and to the log channel.
 */
async function askAndWait(
  interaction: ChatInputCommandInteraction,
  click: ButtonInteraction,
  services: Services,
  guildId: string,
  guildName: string,
  jobId: string,
  kit: Kit,
  locale: Locale,
): Promise<void> {
  const { client } = interaction;
  const asked = await services.branding.pushes.ask(jobId, (userId, job) => askMember(client, services, guildName, job, kit, userId));
  const job = (await services.branding.pushes.status(guildId)).find((candidate) => candidate.id === jobId);
  const deadline = `<t:${Math.floor(Date.parse(job?.deadline ?? new Date().toISOString()) / 1000)}:f>`;
  await click.editReply({ content: t(locale, 'branding.push.asked', { count: asked, deadline }) });
  void services.branding.pushes
    .run(jobId)
    .then(async (finished) => {
      if (finished.state !== 'done') return; // stopped first: a restart carries it on and reports it
      await finishPush(client, services, guildId, guildName, finished, {
        locale,
        send: (summary, file) => client.users.send(interaction.user.id, { content: summary, files: [file] }).then(() => undefined),
      });
    })
    .catch((error: unknown) => services.logger.error({ err: error, job: jobId }, 'an asking push failed'));
}
