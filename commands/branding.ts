/**
 * Team-wide branding. Two commands, because Discord sets default permissions per command:
 * /branding-consent join|leave for every member, and /branding push|revert|status|settings for admins
 * (Manage Server, as the default member permission and checked again when it runs).
 */
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  ComponentType,
  MessageFlags,
  PermissionFlagsBits,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Guild,
} from 'discord.js';
import { randomUUID } from 'node:crypto';
import { describeProgress } from '../src/branding/push.js';
import { normalisedAttachment } from '../src/bot/attachment.js';
import { SERVER_ONLY, type SlashCommand } from '../src/bot/command.js';
import { backgroundOption, cropOption, imageAttachmentOption } from '../src/bot/options.js';
import { avatarFile } from '../src/bot/replies.js';
import { finishPush, finishRevert, postToLog } from '../src/bot/branding-report.js';
import { currentMember } from '../src/bot/membership.js';
import { UserFacingError } from '../src/errors.js';
import { localizedDefinition } from '../src/i18n/commands.js';
import { localeOf } from '../src/i18n/locale.js';
import { teamLibraryOwner } from '../src/branding/team-seasons.js';
import { validateSchedule } from '../src/schedule/engine.js';
import type { Services } from '../src/services.js';
import { readLink } from '../src/store/vault.js';
import { t } from '../src/i18n/t.js';

const CONFIRM_MS = 5 * 60_000;

const CONSENT_TEXT =
  'By joining, you allow the admins of this server (members with Manage Server) to set your X avatar with /branding push, ' +
  'for example for a brand refresh or an event. You are told privately every time, with the new image and how to undo it (/avatar revert). ' +
  'It only works while your X account is linked. Leave at any time with /branding-consent leave; unlinking or leaving the server withdraws it too.';

function requireGuild(interaction: ChatInputCommandInteraction): string {
  if (!interaction.guildId) throw new UserFacingError('guild-only', 'Branding works inside a server, not in DMs.');
  return interaction.guildId;
}

function requireAdmin(interaction: ChatInputCommandInteraction): void {
  if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    throw new UserFacingError('not-admin', 'Only members with the Manage Server permission can use /branding.');
  }
}

/** Membership checks are REST calls: this many at once keeps a 500-member prompt quick without a burst. */
const MEMBER_CHECKS_AT_ONCE = 8;

/**
 * Who a push would reach, counted exactly as the push will: opted in, linked with a working link, still
 * in the server (asked of Discord), holding the role; and who is skipped and why.
 */
async function targetsOf(guild: Guild, services: Services, roleId: string | undefined) {
  const opted = await services.branding.consent.members(guild.id);
  const reasons = new Array<string | undefined>(opted.length);
  const skipReason = async (userId: string): Promise<string | undefined> => {
    const link = await readLink(services.vault, userId, (error) => services.logger.warn({ err: error, user: userId }, 'a stored X link cannot be opened')); // that member alone is skipped
    if (link === 'damaged') return 'X link cannot be read';
    if (!link) return 'not linked';
    if (link.status === 'revoked') return 'X link revoked';
    const member = await currentMember(guild, userId, services.branding.consent);
    if (!member) return 'left the server';
    if (roleId && !member.roles.cache.has(roleId)) return 'without the role';
    return undefined;
  };
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < opted.length; index = next++) reasons[index] = await skipReason(opted[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(MEMBER_CHECKS_AT_ONCE, opted.length) }, worker));
  const reach: string[] = [];
  const skipped: Record<string, string[]> = {};
  opted.forEach((userId, index) => {
    const reason = reasons[index];
    if (reason) (skipped[reason] ??= []).push(userId);
    else reach.push(userId);
  });
  return { reach, skipped, opted: opted.length };
}

async function push(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const role = interaction.options.getRole('role');
  const { avatar } = await normalisedAttachment(interaction, services); // once, for every member
  const guild = interaction.guild ?? (await interaction.client.guilds.fetch(guildId));
  const { reach, skipped, opted } = await targetsOf(guild, services, role?.id);
  const skippedText = Object.entries(skipped).map(([reason, users]) => `${users.length} ${reason}`).join(', ');
  if (reach.length === 0) {
    await interaction.editReply({ content: `Nobody to push to: ${opted} member${opted === 1 ? '' : 's'} opted in${skippedText ? `; skipped: ${skippedText}` : ''}. Members opt in with /branding-consent join.` });
    return;
  }
  const nonce = randomUUID().slice(0, 8);
  const confirmId = `branding-push-confirm:${nonce}`;
  const cancelId = `branding-push-cancel:${nonce}`;
  const file = avatarFile(avatar, 'branding');
  const response = await interaction.editReply({
    content: `This image goes to **${reach.length}** member${reach.length === 1 ? '' : 's'}${role ? ` with ${role.name}` : ''} (opted in, linked, in the server).${skippedText ? ` Skipped: ${skippedText}.` : ''} Push it?`,
    files: [file],
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId(confirmId).setLabel(`Push to ${reach.length}`).setStyle(ButtonStyle.Danger),
        new ButtonBuilder().setCustomId(cancelId).setLabel('Cancel').setStyle(ButtonStyle.Secondary),
      ),
    ],
  });
  let click: ButtonInteraction;
  try {
    click = await response.awaitMessageComponent({
      componentType: ComponentType.Button,
      filter: (candidate) => candidate.user.id === interaction.user.id && [confirmId, cancelId].includes(candidate.customId),
      time: CONFIRM_MS,
    });
  } catch {
    await interaction.editReply({ content: 'Timed out: nothing was pushed.', components: [] });
    return;
  }
  if (click.customId === cancelId) {
    await click.update({ content: 'Cancelled: nothing was pushed.', components: [], files: [], attachments: [] });
    return;
  }
  await click.update({ content: `Pushing to ${reach.length} members…`, components: [] });
  const label = interaction.options.getString('label') ?? `branding by ${interaction.user.username}`;
  const jobId = await services.branding.pushes.start({ guildId, adminId: interaction.user.id, image: { data: avatar.data, format: avatar.format }, label, targets: reach });
  const job = await services.branding.pushes.run(jobId, (progress) => {
    void click.editReply({ content: t(locale, 'branding.pushing', { label, progress: describeProgress(progress, locale) }) }).catch(() => undefined);
  });
  await finishPush(interaction.client, services, guildId, interaction.guild?.name ?? 'this server', job, {
    locale,
    send: (summary, report) => click.editReply({ content: summary, files: [report], attachments: [] }).then(() => undefined),
  });
}

async function revert(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const job = await services.branding.pushes.revert(guildId, {
    adminId: interaction.user.id,
    onProgress: (progress) => void interaction.editReply({ content: t(locale, 'branding.reverting', { progress: describeProgress(progress, locale) }) }).catch(() => undefined),
  });
  await finishRevert(interaction.client, services, guildId, job, interaction.user.id, { locale, send: (summary) => interaction.editReply({ content: summary }).then(() => undefined) });
}

async function season(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const id = randomUUID().slice(0, 6);
  const teamSeason = { id, kind: 'season' as const, image: `team-${id}`, from: interaction.options.getString('from', true), to: interaction.options.getString('to', true), priority: 0, createdAt: new Date().toISOString() };
  validateSchedule(teamSeason, 'UTC');
  const { avatar } = await normalisedAttachment(interaction, services);
  await services.library.add(teamLibraryOwner(guildId), teamSeason.image, { data: avatar.data, format: avatar.format });
  await services.branding.seasons.add(guildId, teamSeason);
  const members = await services.branding.consent.members(guildId);
  for (const userId of members) {
    await services.schedules.update(userId, () => undefined); // restored on start like any member with schedules
    await services.scheduler.refresh(userId);
  }
  const summary = `Team season ${teamSeason.from}..${teamSeason.to} (UTC days) added for ${members.length} member${members.length === 1 ? '' : 's'} who opted in. While it is active it takes precedence over their personal schedules, which resume after it.`;
  await interaction.editReply({ content: summary, files: [avatarFile(avatar, 'team-season')] });
  await services.branding.settings.record(guildId, { at: new Date().toISOString(), adminId: interaction.user.id, action: 'season', label: `${teamSeason.from}..${teamSeason.to}`, summary });
  await postToLog(interaction.client, services, guildId, `<@${interaction.user.id}> ${summary}`);
}

async function status(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const jobs = await services.branding.pushes.status(guildId);
  const opted = (await services.branding.consent.members(guildId)).length;
  const lines = jobs.map((job) => {
    const { done, failed, skipped } = Object.values(job.results).reduce(
      (sum, result) => ({ ...sum, [result.status]: (sum[result.status as 'done'] ?? 0) + 1 }),
      { done: 0, failed: 0, skipped: 0 } as Record<string, number>,
    );
    return `\`${job.id.slice(0, 8)}\` <t:${Math.floor(Date.parse(job.createdAt) / 1000)}:f> "${job.label}" by <@${job.adminId}>: ${job.state}, ${done} done, ${failed} failed, ${skipped} skipped`;
  });
  await interaction.editReply({ content: [`${opted} member${opted === 1 ? '' : 's'} opted in.`, ...(lines.length ? lines : ['No pushes yet.'])].join('\n') });
}

async function settings(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const channel = interaction.options.getChannel('log-channel');
  await services.branding.settings.setLogChannel(guildId, channel?.id);
  await interaction.editReply({ content: channel ? `Pushes, reverts and seasons are now posted in <#${channel.id}>.` : 'Branding activity is no longer posted to a channel (it is still kept).' });
}

export const brandingCommand: SlashCommand = {
  // Descriptions and choice names are the catalogue's (command.branding.*); those here are for readers.
  definition: localizedDefinition({
    name: 'branding',
    description: 'Set the X avatar of every member who opted in (admins)',
    default_member_permissions: String(PermissionFlagsBits.ManageGuild),
    ...SERVER_ONLY,
    options: [
      {
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
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'revert', description: 'Restore everyone’s avatar from before the last push' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'season',
        description: 'A team avatar for a range of days every year, above members’ own schedules',
        options: [
          imageAttachmentOption,
          { type: ApplicationCommandOptionType.String, name: 'from', description: 'First day, MM-DD (UTC)', required: true, min_length: 5, max_length: 5 },
          { type: ApplicationCommandOptionType.String, name: 'to', description: 'Last day, MM-DD (may wrap the new year)', required: true, min_length: 5, max_length: 5 },
        ],
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'status', description: 'The last pushes and their results' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'settings',
        description: 'Where branding activity is posted',
        options: [{ type: ApplicationCommandOptionType.Channel, name: 'log-channel', description: 'Leave empty to stop posting', channel_types: [ChannelType.GuildText] }],
      },
    ],
  }),

  async execute(interaction, services) {
    switch (interaction.options.getSubcommand()) {
      case 'push':
        return push(interaction, services);
      case 'revert':
        return revert(interaction, services);
      case 'season':
        return season(interaction, services);
      case 'status':
        return status(interaction, services);
      case 'settings':
        return settings(interaction, services);
    }
  },
};

export const brandingConsentCommand: SlashCommand = {
  definition: localizedDefinition({
    name: 'branding-consent',
    description: 'Allow or stop this server’s admins setting your X avatar',
    ...SERVER_ONLY,
    options: [
      { type: ApplicationCommandOptionType.Subcommand, name: 'join', description: 'Allow this server’s admins to set your X avatar' },
      { type: ApplicationCommandOptionType.Subcommand, name: 'leave', description: 'Withdraw that permission now' },
    ],
  }),

  async execute(interaction, services) {
    const guildId = requireGuild(interaction);
    if (interaction.options.getSubcommand() === 'join') {
      const account = await readLink(services.vault, interaction.user.id, (error) => services.logger.warn({ err: error, user: interaction.user.id }, 'a stored X link cannot be opened'));
      await services.branding.consent.join(guildId, interaction.user.id);
      await services.schedules.update(interaction.user.id, () => undefined);
      await services.scheduler.refresh(interaction.user.id); // the server's team season, if one is active

      await interaction.reply({
        content: `${CONSENT_TEXT}\n\nYou have joined.${account === 'damaged' ? ' Your stored X link cannot be read: unlink with /twitter unlink and link again.' : account ? '' : ' Your X account is not linked yet: /twitter link.'}`,
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    const was = await services.branding.consent.leave(guildId, interaction.user.id);
    await services.scheduler.refresh(interaction.user.id); // personal schedules take over again
    await interaction.reply({ content: was ? 'You have left: the admins of this server can no longer set your X avatar.' : 'You had not joined, so nothing changed.', flags: MessageFlags.Ephemeral });
  },
};
