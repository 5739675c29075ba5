/**
 * Announcing scheduled changes in Discord: by DM (default), in a channel the user picked, or not at all.
 */
import { EmbedBuilder, type Client, type MessageCreateOptions } from 'discord.js';
import type { ScheduledNotice } from '../schedule/scheduler.js';
import type { ScheduleRecord } from '../store/schedules.js';
import { avatarFile, BRAND_COLOUR } from './replies.js';

export function noticeMessage(discordUserId: string, notice: ScheduledNotice, inChannel: boolean): MessageCreateOptions {
  const mention = inChannel ? `<@${discordUserId}>` : '';
  if (notice.kind === 'failed') return { content: `${mention}${mention ? ' ' : ''}${notice.message}`, allowedMentions: { users: [discordUserId] } };
  const file = avatarFile({ data: notice.data, format: notice.format }, 'scheduled');
  const embed = new EmbedBuilder()
    .setColor(BRAND_COLOUR)
    .setTitle(`Scheduled avatar: ${notice.image}`)
    .setDescription(`Changed by your ${notice.schedule}.\n400x400: ${notice.url400}`)
    .setThumbnail(`attachment://${file.name}`)
    .setURL(notice.url400);
  return { content: mention || undefined, embeds: [embed], files: [file], allowedMentions: { users: [discordUserId] } };
}

/** Returns false when the message could not be delivered (DMs closed, channel gone). */
export async function deliverNotice(client: Client, discordUserId: string, record: ScheduleRecord, notice: ScheduledNotice): Promise<boolean> {
  try {
    if (record.notify.mode === 'off') return false;
    if (record.notify.mode === 'channel') {
      const channel = await client.channels.fetch(record.notify.channelId);
      if (!channel?.isSendable()) return false;
      await channel.send(noticeMessage(discordUserId, notice, true));
      return true;
    }
    const user = await client.users.fetch(discordUserId);
    await user.send(noticeMessage(discordUserId, notice, false));
    return true;
  } catch {
    return false;
  }
}
