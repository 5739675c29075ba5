/** /branding push: who it reaches, the admin confirms, the push runs with progress, the report follows. */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
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
import { requireAdmin, requireGuild } from './common.js';

const CONFIRM_MS = 5 * 60_000;

export const pushSubcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'push',
  description: 'Push one avatar to every member who opted in',
  options: [
    imageAttachmentOption,
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
  const { role } = options;
  const { avatar } = await normalisedAttachment(options, services); // once, for every member
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
  );
  const skippedText = skippedWords(skipped, locale);
  if (reach.length === 0) {
    await interaction.editReply({ content: skippedText ? t(locale, 'branding.push.nobody-skipped', { count: opted, skipped: skippedText }) : t(locale, 'branding.push.nobody', { count: opted }) });
    return;
  }
  const click = await confirm(interaction, {
    locale,
    content: [
      role ? t(locale, 'branding.push.reach-role', { count: reach.length, role: role.name }) : t(locale, 'branding.push.reach', { count: reach.length }),
      ...(skippedText ? [t(locale, 'branding.push.skipped', { skipped: skippedText })] : []),
      t(locale, 'branding.push.ask'),
    ].join(' '),
    files: [avatarFile(avatar, 'branding')],
    confirmLabel: t(locale, 'branding.push.confirm', { count: reach.length }),
    ids: (choice, nonce) => `branding-push-${choice}:${nonce}`,
    timeoutMs: CONFIRM_MS,
    timedOut: t(locale, 'branding.push.timed-out'),
    cancelled: t(locale, 'branding.push.cancelled'),
  });
  if (!click) return;
  await click.update({ content: t(locale, 'branding.push.starting', { count: reach.length }), components: [] });
  const label = options.label ?? t(locale, 'branding.push.default-label', { name: interaction.user.username });
  const jobId = await services.branding.pushes.start({ guildId, adminId: interaction.user.id, image: { data: avatar.data, format: avatar.format }, label, targets: reach });
  const job = await services.branding.pushes.run(jobId, (progress) => {
    void click.editReply({ content: t(locale, 'branding.pushing', { label, progress: describeProgress(progress, locale) }) }).catch(() => undefined);
  });
  await finishPush(interaction.client, services, guildId, interaction.guild?.name ?? guild.name, job, {
    locale,
    send: (summary, report) => click.editReply({ content: summary, files: [report], attachments: [] }).then(() => undefined),
  });
}
