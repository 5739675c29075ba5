/**
 * Ask mode of /branding push: each member's question (a DM with the preview of what would change and
 * Approve / Decline buttons) and the buttons' answers, which outlive the command (they work after a
 * restart: the job and its deadline are in the store).
 */
import { ActionRowBuilder, AttachmentBuilder, ButtonBuilder, ButtonStyle, type ButtonInteraction, type Client } from 'discord.js';
import { bannerPreview } from '../../src/avatar/banner.js';
import { circlePreview } from '../../src/avatar/circle.js';
import { customId, onButton, type ComponentHandler } from '../../src/bot/command.js';
import { kitParts, kitWith } from '../../src/branding/kit-members.js';
import type { AskAnswer, PushJob } from '../../src/branding/push.js';
import { localeOf } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { Kit } from '../../src/library/store.js';
import type { Services } from '../../src/services.js';
import { isImageValue } from '../../src/changes/parts.js';
import { partsWords } from './common.js';

/** Custom ids `branding-consent:approve:<jobId>`: the member's own command routes them. */
const ASK_COMMAND = 'branding-consent';

async function answer(interaction: ButtonInteraction, services: Services, jobId: string, choice: AskAnswer): Promise<void> {
  const locale = localeOf(interaction.locale);
  const outcome = await services.branding.pushes.answer(jobId, interaction.user.id, choice);
  await interaction.update({ content: `${interaction.message.content}\n\n${t(locale, `branding.ask.answer.${outcome}`)}`, components: [] });
}

export const askComponents: Record<string, ComponentHandler> = {
  approve: onButton((interaction, services, jobId) => answer(interaction, services, jobId, 'approved')),
  decline: onButton((interaction, services, jobId) => answer(interaction, services, jobId, 'declined')),
};

/**
 * The question to one member, in their last seen locale: the parts of the push they allowed, with their
 * own values filled in (the avatar as X shows it in a circle, the banner on a profile page, the texts).
 */
export async function askMember(client: Client, services: Services, guildName: string, job: PushJob, kit: Kit, userId: string): Promise<void> {
  const allowed = (await services.branding.consent.parts(job.guildId, userId)) ?? [];
  const parts = kitParts(kit).filter((part) => allowed.includes(part));
  if (parts.length === 0) return;
  const locale = await services.locales.of(userId);
  const values = await services.kits.valuesFor(userId, kitWith(kit, parts));
  const files: AttachmentBuilder[] = [];
  const avatar = values.avatar && isImageValue(values.avatar) ? values.avatar : undefined;
  if (avatar) files.push(new AttachmentBuilder(await circlePreview(avatar.data), { name: 'avatar-preview.png' }));
  if (values.banner && isImageValue(values.banner)) files.push(new AttachmentBuilder(await bannerPreview(values.banner.data, avatar?.data), { name: 'banner-preview.png' }));
  const texts = (['name', 'bio'] as const).flatMap((part) => {
    const value = values[part];
    return value && !isImageValue(value) ? [t(locale, `branding.ask.${part}`, { text: value.text })] : [];
  });
  const deadline = `<t:${Math.floor(Date.parse(job.deadline ?? job.createdAt) / 1000)}:f>`;
  const content = [t(locale, 'branding.ask.question', { server: guildName, label: job.label, parts: partsWords(parts, locale), deadline }), ...texts].join('\n');
  const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(ASK_COMMAND, 'approve', job.id)).setLabel(t(locale, 'branding.ask.approve')).setStyle(ButtonStyle.Success),
    new ButtonBuilder().setCustomId(customId(ASK_COMMAND, 'decline', job.id)).setLabel(t(locale, 'branding.ask.decline')).setStyle(ButtonStyle.Secondary),
  );
  await (await client.users.fetch(userId)).send({ content, files, components: [buttons] });
}
