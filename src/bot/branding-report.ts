/**
 * What follows a branding push in Discord: the final report, a private note to each member, and a post
 * in the server's log channel. Used by /branding push and when a push resumes after a restart.
 */
import { AttachmentBuilder, type Client } from 'discord.js';
import type { PushJob } from '../branding/push.js';
import type { Services } from '../services.js';

export function report(job: PushJob): { summary: string; file: AttachmentBuilder } {
  const results = Object.entries(job.results);
  const of = (status: string) => results.filter(([, result]) => result.status === status);
  const lines = [
    `Push "${job.label}" (${job.id}) by ${job.adminId}, ${job.createdAt}`,
    '',
    `Succeeded (${of('done').length}):`,
    ...of('done').map(([userId, result]) => `  ${userId}  ${result.url400 ?? ''}`),
    `Failed (${of('failed').length}):`,
    ...of('failed').map(([userId, result]) => `  ${userId}  ${result.reason ?? ''}`),
    `Skipped (${of('skipped').length}):`,
    ...of('skipped').map(([userId, result]) => `  ${userId}  ${result.reason ?? ''}`),
  ];
  const failedReasons = [...new Set(of('failed').map(([, result]) => result.reason))].join(', ');
  const summary =
    `Pushed "${job.label}": ${of('done').length} succeeded, ${of('failed').length} failed${failedReasons ? ` (${failedReasons})` : ''}, ${of('skipped').length} skipped. ` +
    'The full report is attached.';
  return { summary, file: new AttachmentBuilder(Buffer.from(lines.join('\n')), { name: `push-${job.id}.txt` }) };
}

/** Tell each member privately what happened to their avatar. */
export async function tellMembers(client: Client, guildName: string, job: PushJob): Promise<void> {
  for (const [userId, result] of Object.entries(job.results)) {
    let content: string | undefined;
    if (result.status === 'done') {
      content = `The admins of ${guildName} changed your X avatar ("${job.label}"). New 400x400: ${result.url400 ?? ''}\nTo undo it for yourself: /avatar revert. To stop this: /branding-consent leave.`;
    } else if (result.kind === 'link-revoked' || result.kind === 'token-revoked') {
      content = `The admins of ${guildName} tried to set your X avatar ("${job.label}"), but your X link was revoked. Link again with /twitter link.`;
    }
    if (content) await client.users.send(userId, content).catch(() => undefined);
  }
}

export async function postToLog(client: Client, services: Services, guildId: string, text: string, file?: AttachmentBuilder): Promise<void> {
  const { logChannelId } = await services.branding.settings.get(guildId);
  if (!logChannelId) return;
  const channel = await client.channels.fetch(logChannelId).catch(() => null);
  if (channel?.isSendable()) await channel.send({ content: text, files: file ? [file] : [], allowedMentions: { parse: [] } }).catch(() => undefined);
}

/** After a push: the final report, each member told privately, the log channel. Also used on resume. */
export async function finishPush(client: Client, services: Services, guildId: string, guildName: string, job: PushJob, reply?: (summary: string, file: AttachmentBuilder) => Promise<void>): Promise<void> {
  const { summary, file } = report(job);
  await reply?.(summary, file).catch(() => undefined);
  await tellMembers(client, guildName, job);
  await services.branding.settings.record(guildId, { at: new Date().toISOString(), adminId: job.adminId, action: 'push', label: job.label, summary });
  await postToLog(client, services, guildId, `<@${job.adminId}> ${summary}`, file);
}


/** "Reverted "Launch": 3 restored, 0 failed, 1 skipped (changed since)." */
export function revertSummary(job: PushJob): string {
  const results = Object.values(job.reverts ?? {});
  const count = (status: string) => results.filter((result) => result.status === status).length;
  return `Reverted "${job.label}": ${count('done')} restored, ${count('failed')} failed, ${count('skipped')} skipped (changed since).`;
}

/** After a revert: recorded, and posted in the log channel. Also used when a revert resumes after a restart. */
export async function finishRevert(client: Client, services: Services, guildId: string, job: PushJob, adminId: string, reply?: (summary: string) => Promise<void>): Promise<void> {
  const summary = revertSummary(job);
  await reply?.(summary).catch(() => undefined);
  await services.branding.settings.record(guildId, { at: new Date().toISOString(), adminId, action: 'revert', label: job.label, summary });
  await postToLog(client, services, guildId, `<@${adminId}> ${summary}`);
}
