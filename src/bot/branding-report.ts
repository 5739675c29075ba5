/**
 * What follows a branding push in Discord: the final report, a private note to each member, and a post
 * in the server's log channel. Used by /branding push and when a push resumes after a restart.
 *
 * Each in its reader's language: the admin's reply in their interaction's locale, each member's DM in
 * that member's last seen locale, the log channel (and its attached report) in the server's preferred locale.
 */
import { AttachmentBuilder, type Client } from 'discord.js';
import type { MemberResult, PartResult, PushJob } from '../branding/push.js';
import { PROFILE_PARTS } from '../profile/parts.js';
import { UserFacingError } from '../errors.js';
import type { Locale } from '../i18n/locale.js';
import { guildLocale } from '../i18n/preferences.js';
import { errorWords } from '../i18n/render-error.js';
import { lookup, t } from '../i18n/t.js';
import type { Services } from '../services.js';

/**
 * Why a member failed or was skipped, in `locale`: `branding.reason.<kind>`, else the words of that error
 * kind; a record written before results kept kinds has its English words, shown as they are.
 */
export function memberReason(result: Pick<MemberResult, 'reason' | 'kind' | 'params' | 'variant'> | PartResult, locale: Locale): string {
  if ('reason' in result && result.reason !== undefined) return result.reason;
  if (result.kind === undefined) return '';
  return lookup(locale, `branding.reason.${result.kind}`) ?? errorWords(new UserFacingError(result.kind, result.params ?? {}, result.variant === undefined ? {} : { variant: result.variant }), locale, 'bot');
}

/** A kit push's member, part by part: "avatar: https://… · name: 🎃 Ana · bio: part not allowed". */
function partsLine(result: MemberResult, locale: Locale): string {
  return PROFILE_PARTS.flatMap((part) => {
    const outcome = result.parts?.[part];
    if (!outcome) return [];
    const what = outcome.status === 'done' ? (outcome.shown ?? '') : memberReason(outcome, locale);
    return [`${t(locale, `branding.part.${part}`)}: ${what}`];
  }).join(' · ');
}

export function report(job: PushJob, locale: Locale): { summary: string; file: AttachmentBuilder } {
  const results = Object.entries(job.results);
  const asked = job.mode === 'ask';
  const answered = (kind: string) => (asked ? results.filter(([, result]) => result.status === 'skipped' && result.kind === kind) : []);
  const declined = answered('declined');
  const unanswered = answered('no-answer');
  const of = (status: string) => results.filter(([, result]) => result.status === status && !(asked && (result.kind === 'declined' || result.kind === 'no-answer')));
  const line = ([userId, result]: [string, MemberResult], what: string) => `  ${userId}  ${result.parts ? partsLine(result, locale) || what : what}`;
  const lines = [
    t(locale, 'branding.report.title', { label: job.label, id: job.id, admin: job.adminId, at: job.createdAt }),
    '',
    t(locale, 'branding.report.succeeded', { count: of('done').length }),
    ...of('done').map((entry) => line(entry, entry[1].url400 ?? '')),
    t(locale, 'branding.report.failed', { count: of('failed').length }),
    ...of('failed').map((entry) => line(entry, memberReason(entry[1], locale))),
    ...(asked
      ? [
          t(locale, 'branding.report.declined', { count: declined.length }),
          ...declined.map(([userId]) => `  ${userId}`),
          t(locale, 'branding.report.unanswered', { count: unanswered.length }),
          ...unanswered.map(([userId]) => `  ${userId}`),
        ]
      : []),
    t(locale, 'branding.report.skipped', { count: of('skipped').length }),
    ...of('skipped').map((entry) => line(entry, memberReason(entry[1], locale))),
  ];
  const reasons = [...new Set(of('failed').map(([, result]) => memberReason(result, locale)))].join(', ');
  const counts = { label: job.label, done: of('done').length, failed: of('failed').length, skipped: of('skipped').length };
  let summary: string;
  if (asked) {
    const why = [...new Set(of('skipped').map(([, result]) => memberReason(result, locale)))].join(', ');
    const askCounts = { ...counts, declined: declined.length, unanswered: unanswered.length };
    summary = why ? t(locale, 'branding.summary-ask-why', { ...askCounts, why }) : t(locale, 'branding.summary-ask', askCounts);
  } else summary = reasons ? t(locale, 'branding.summary-reasons', { ...counts, reasons }) : t(locale, 'branding.summary', counts);
  return { summary, file: new AttachmentBuilder(Buffer.from(lines.join('\n')), { name: `push-${job.id}.txt` }) };
}

/** Tell each member privately what happened to their avatar, in their last seen locale. */
export async function tellMembers(client: Client, services: Services, guildName: string, job: PushJob): Promise<void> {
  for (const [userId, result] of Object.entries(job.results)) {
    const locale = await services.locales.of(userId);
    let content: string | undefined;
    if (result.status === 'done' && result.parts) {
      const changed = PROFILE_PARTS.filter((part) => result.parts?.[part]?.status === 'done').map((part) => t(locale, `branding.part.${part}`));
      content = t(locale, 'branding.member.pushed-kit', { server: guildName, label: job.label, parts: new Intl.ListFormat(locale, { type: 'conjunction' }).format(changed) });
    } else if (result.status === 'done') {
      content = t(locale, 'branding.member.pushed', { server: guildName, label: job.label, url: result.url400 ?? '' });
    } else if (result.kind === 'link-revoked' || result.kind === 'token-revoked') {
      content = t(locale, 'branding.member.revoked', { server: guildName, label: job.label });
    }
    if (content) await client.users.send(userId, content).catch(() => undefined);
  }
}

/** The server's preferred locale: the language of its log channel. */
export const serverLocale = (client: Client, guildId: string): Locale => guildLocale(client.guilds.cache.get(guildId));

export async function postToLog(client: Client, services: Services, guildId: string, text: string, file?: AttachmentBuilder): Promise<void> {
  const { logChannelId } = await services.branding.settings.get(guildId);
  if (!logChannelId) return;
  const channel = await client.channels.fetch(logChannelId).catch(() => null);
  if (channel?.isSendable()) await channel.send({ content: text, files: file ? [file] : [], allowedMentions: { parse: [] } }).catch(() => undefined);
}

/**
 * After a push: the final report, each member told privately, the log channel. Also used on resume (no
 * reply then). `replyLocale`: the admin's; the record kept for /branding status is in English.
 */
export async function finishPush(
  client: Client,
  services: Services,
  guildId: string,
  guildName: string,
  job: PushJob,
  reply?: { locale: Locale; send: (summary: string, file: AttachmentBuilder) => Promise<void> },
): Promise<void> {
  if (reply) {
    const { summary, file } = report(job, reply.locale);
    await reply.send(summary, file).catch(() => undefined);
  }
  await tellMembers(client, services, guildName, job);
  await services.branding.settings.record(guildId, { at: new Date().toISOString(), adminId: job.adminId, action: 'push', label: job.label, summary: report(job, 'en-US').summary });
  const { summary, file } = report(job, serverLocale(client, guildId));
  await postToLog(client, services, guildId, `<@${job.adminId}> ${summary}`, file);
}

/** "Reverted "Launch": 3 restored, 0 failed, 1 skipped (changed since)." */
export function revertSummary(job: PushJob, locale: Locale): string {
  const results = Object.values(job.reverts ?? {});
  const count = (status: string) => results.filter((result) => result.status === status).length;
  return t(locale, 'branding.revert-summary', { label: job.label, done: count('done'), failed: count('failed'), skipped: count('skipped') });
}

/** After a revert: recorded, and posted in the log channel. Also used when a revert resumes after a restart. */
export async function finishRevert(
  client: Client,
  services: Services,
  guildId: string,
  job: PushJob,
  adminId: string,
  reply?: { locale: Locale; send: (summary: string) => Promise<void> },
): Promise<void> {
  await reply?.send(revertSummary(job, reply.locale)).catch(() => undefined);
  await services.branding.settings.record(guildId, { at: new Date().toISOString(), adminId, action: 'revert', label: job.label, summary: revertSummary(job, 'en-US') });
  await postToLog(client, services, guildId, `<@${adminId}> ${revertSummary(job, serverLocale(client, guildId))}`);
}
