/**
 * Announcing scheduled changes in Discord: by DM (default), in a channel the user picked, or not at all.
 *
 * A channel is checked twice. When the setting is saved: the member must be able to read and write there
 * (Discord sends their permissions in that channel with the option), and the bot must be in that server
 * and able to post the notice (an embed and an image) there. Before each post: permissions change, so the
 * member's and the bot's are computed again from fresh data; when either lost them the notice goes by DM
 * with a line saying why, and the setting stays (it works again once the permissions come back).
 */
import {
  ActionRowBuilder,
  ApplicationIntegrationType,
  ButtonBuilder,
  ButtonStyle,
  DiscordAPIError,
  EmbedBuilder,
  PermissionFlagsBits,
  PermissionsBitField,
  RESTJSONErrorCodes,
  type ChatInputCommandInteraction,
  type Client,
  type GuildBasedChannel,
  type MessageCreateOptions,
} from 'discord.js';
import { UserFacingError } from '../errors.js';
import type { Locale } from '../i18n/locale.js';
import { guildLocale } from '../i18n/preferences.js';
import { failureWords, ruleWords } from '../i18n/schedule-words.js';
import { t } from '../i18n/t.js';
import type { ScheduledNotice } from '../schedule/scheduler.js';
import type { ScheduleRecord } from '../schedule/store.js';
import type { ProfilePart } from '../profile/parts.js';
import { avatarFile, BRAND_COLOUR, fitMessage } from './replies.js';
import { customId } from './command.js';

/** What the member needs to see the channel and write in it. */
const MEMBER_NEEDS = PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages;
/** What the bot needs to post the notice: it carries an embed with the new image attached. */
const BOT_NEEDS = MEMBER_NEEDS | PermissionFlagsBits.EmbedLinks | PermissionFlagsBits.AttachFiles;

export const NOTICE_CHANNEL_ERROR_KINDS = ['notice-channel-not-in-server', 'notice-channel-member-cannot-write', 'notice-channel-bot-cannot-post'] as const;
export class NoticeChannelError extends UserFacingError<(typeof NOTICE_CHANNEL_ERROR_KINDS)[number]> {}

/** The missing permissions as flag names (`EmbedLinks,AttachFiles`): each edge names them as the reader's Discord does. */
const missingFlags = (have: bigint, needed: bigint) => new PermissionsBitField(needed & ~have).toArray().join(',');

/** The resolved `channel` option: a cached channel with `permissions`, or the API object (its `permissions` a string). */
type ResolvedChannel = { id: string; permissions?: Readonly<PermissionsBitField> | string | null };

/** Throws NoticeChannelError when scheduled-change notices cannot be posted in `channel` for this member. */
export function checkNoticeChannel(interaction: ChatInputCommandInteraction, channel: ResolvedChannel): void {
  const guildId = interaction.guildId;
  const guild = guildId ? interaction.client.guilds.cache.get(guildId) : undefined;
  const me = guild?.members.me;
  if (!guildId || interaction.authorizingIntegrationOwners[ApplicationIntegrationType.GuildInstall] !== guildId || !guild || !me) {
    throw new NoticeChannelError('notice-channel-not-in-server');
  }
  const raw = channel.permissions;
  const member = raw === undefined || raw === null ? 0n : typeof raw === 'string' ? BigInt(raw) : raw.bitfield;
  if ((member & MEMBER_NEEDS) !== MEMBER_NEEDS) {
    throw new NoticeChannelError('notice-channel-member-cannot-write', { channel: channel.id });
  }
  const bot = guild.channels.cache.get(channel.id)?.permissionsFor(me)?.bitfield ?? 0n;
  if ((bot & BOT_NEEDS) !== BOT_NEEDS) {
    throw new NoticeChannelError('notice-channel-bot-cannot-post', { channel: channel.id, permissions: missingFlags(bot, BOT_NEEDS) });
  }
}

type NoticeProblem = `schedule.notice.${'channel-gone' | 'channel-unseen' | 'bot-cannot-post' | 'member-cannot-write' | 'member-left'}`;

/** Why a notice cannot go to the channel now (fresh data, not the cache), or undefined when it can. */
async function channelProblem(client: Client, channelId: string, discordUserId: string): Promise<NoticeProblem | undefined> {
  let channel: GuildBasedChannel;
  try {
    const fetched = await client.channels.fetch(channelId, { force: true });
    if (!fetched || !('guild' in fetched) || !fetched.isSendable()) return 'schedule.notice.channel-gone';
    channel = fetched;
  } catch {
    return 'schedule.notice.channel-unseen';
  }
  const me = channel.guild.members.me;
  if (!me || (channel.permissionsFor(me).bitfield & BOT_NEEDS) !== BOT_NEEDS) return 'schedule.notice.bot-cannot-post';
  try {
    const member = await channel.guild.members.fetch({ user: discordUserId, force: true });
    if ((channel.permissionsFor(member).bitfield & MEMBER_NEEDS) !== MEMBER_NEEDS) return 'schedule.notice.member-cannot-write';
  } catch (error) {
    if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.UnknownMember) return 'schedule.notice.member-left';
    throw error;
  }
  return undefined;
}

export function noticeMessage(discordUserId: string, notice: ScheduledNotice, inChannel: boolean, locale: Locale): MessageCreateOptions {
  const mention = inChannel ? `<@${discordUserId}>` : '';
  if (notice.kind === 'failed') {
    const content = `${mention}${mention ? ' ' : ''}${failureWords(locale, notice.failure)}`;
    // Issue 12: a schedule paused by a hand change on X resumes with one press (commands/schedule/index.ts).
    const resume =
      notice.failure.kind === 'hand-changed'
        ? [new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(customId('schedule', 'resume', notice.failure.schedule)).setLabel(t(locale, 'schedule.button.resume')).setStyle(ButtonStyle.Primary))]
        : [];
    return { content, allowedMentions: { users: [discordUserId] }, ...(resume.length ? { components: resume } : {}) };
  }
  const rule = notice.rule ? ruleWords(locale, notice.rule) : notice.label;
  const { parts } = notice;
  const embed = new EmbedBuilder()
    .setColor(BRAND_COLOUR)
    .setTitle(parts?.kit ? t(locale, 'schedule.notice.kit-title', { kit: notice.image }) : t(locale, 'schedule.notice.title', { image: notice.image }))
    .setDescription(
      [
        notice.url400 === undefined ? t(locale, 'schedule.notice.description-no-avatar', { rule }) : t(locale, 'schedule.notice.description', { rule, url: notice.url400 }),
        // A kit says which parts of the profile it changed, and which came back as they were before one.
        parts?.kit ? t(locale, 'schedule.notice.parts-changed', { parts: partsWords(locale, parts.changed) }) : '',
        parts?.restored.length ? t(locale, 'schedule.notice.parts-restored', { parts: partsWords(locale, parts.restored) }) : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  if (!notice.data || !notice.format || notice.url400 === undefined) return { content: mention || undefined, embeds: [embed], allowedMentions: { users: [discordUserId] } };
  const file = avatarFile({ data: notice.data, format: notice.format }, 'scheduled');
  embed.setThumbnail(`attachment://${file.name}`).setURL(notice.url400);
  return { content: mention || undefined, embeds: [embed], files: [file], allowedMentions: { users: [discordUserId] } };
}

const PART_KEYS = { avatar: 'schedule.part.avatar', banner: 'schedule.part.banner', name: 'schedule.part.name', bio: 'schedule.part.bio' } as const;

/** "avatar, banner and name", in the reader's language. */
function partsWords(locale: Locale, parts: ProfilePart[]): string {
  return new Intl.ListFormat(locale, { type: 'conjunction' }).format(parts.map((part) => t(locale, PART_KEYS[part])));
}

/**
 * Returns false when the message could not be delivered (DMs closed, channel gone). A DM is in `locale`
 * (the user's last seen one), a channel post in the server's preferred locale.
 */
export async function deliverNotice(client: Client, discordUserId: string, record: ScheduleRecord, notice: ScheduledNotice, locale: Locale): Promise<boolean> {
  try {
    if (record.notify.mode === 'off') return false;
    let note = '';
    if (record.notify.mode === 'channel') {
      const problem = await channelProblem(client, record.notify.channelId, discordUserId);
      if (!problem) {
        const channel = await client.channels.fetch(record.notify.channelId);
        if (!channel?.isSendable()) return false;
        await channel.send(fitMessage(noticeMessage(discordUserId, notice, true, guildLocale('guild' in channel ? channel.guild : undefined))));
        return true;
      }
      note = t(locale, 'schedule.notice.rerouted', { channel: record.notify.channelId, problem: t(locale, problem) });
    }
    const user = await client.users.fetch(discordUserId);
    const message = noticeMessage(discordUserId, notice, false, locale);
    await user.send(fitMessage(note ? { ...message, content: [note, message.content].filter(Boolean).join('\n') } : message));
    return true;
  } catch {
    return false;
  }
}
