/**
 * What /avatar, /banner and /profile share about the parts of a profile: a part's own words for the core's
 * refusals, and a preview's Apply and Cancel buttons.
 */
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import { AccountError } from '../accounts/errors.js';
import type { ImagePart, ProfilePart } from '../profile/parts.js';
import type { Locale } from '../i18n/locale.js';
import { localeOf } from '../i18n/locale.js';
import { t } from '../i18n/t.js';
import { customId, onButton, type ComponentHandler } from './command.js';
import { partAppliedReply, replyTo } from './replies.js';

/** The core's refusals about history and reverts that speak of the avatar by default. */
const PART_WORDED = new Set(['nothing-to-revert', 'history-entry-gone', 'preview-expired', 'preview-replaced']);

/**
 * Runs a change of `part`: a refusal the core words for the avatar ("your X avatar is the one you had
 * before") gets the part's own words, as a variant (`error.nothing-to-revert.banner`,
 * `error.nothing-to-revert.original-not-saved.bio`, `bot.error.preview-expired.banner`).
 */
export async function forPart<T>(part: ProfilePart, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (part === 'avatar' || !(error instanceof AccountError) || !PART_WORDED.has(error.kind)) throw error;
    throw new AccountError(error.kind, error.params, { variant: error.variant === undefined ? part : `${error.variant}.${part}` });
  }
}

const isPreviewUsed = (error: unknown) => error instanceof AccountError && error.kind === 'preview-used';

/** The Apply and Cancel buttons under a preview, routed to `command`'s previewComponents. */
export function previewButtons(command: string, previewId: string, locale: Locale): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(command, 'apply', previewId)).setLabel(t(locale, 'avatar.preview.apply')).setStyle(ButtonStyle.Success),
    new ButtonBuilder().setCustomId(customId(command, 'cancel', previewId)).setLabel(t(locale, 'common.cancel')).setStyle(ButtonStyle.Secondary),
  );
}

/** What Apply and Cancel under a preview of `part` do (a preview of another part is not found). */
export function previewComponents(part: ImagePart): { apply: ComponentHandler; cancel: ComponentHandler } {
  return {
    apply: onButton(async (interaction, services, previewId) => {
      const locale = localeOf(interaction.locale);
      await interaction.update({ content: t(locale, 'common.applying'), components: [] });
      let applied;
      try {
        applied = await forPart(part, () => services.avatars.applyPartPreview(interaction.user.id, previewId, part, replyTo(interaction)));
      } catch (error) {
        if (isPreviewUsed(error)) return; // a double click: the first click shows the result on this message
        throw error;
      }
      await interaction.editReply({ ...partAppliedReply(applied, 'updated', locale), attachments: [] });
    }),
    cancel: onButton(async (interaction, services, previewId) => {
      await interaction.deferUpdate(); // discarding waits for an Apply in progress
      const locale = localeOf(interaction.locale);
      let content = t(locale, 'avatar.preview.cancelled');
      try {
        await services.avatars.discardPreview(interaction.user.id, previewId);
      } catch (error) {
        if (isPreviewUsed(error)) return; // Apply was clicked first: its result stays on this message
        if (!(error instanceof AccountError && error.kind === 'preview-expired')) throw error; // the usual failure reply
        content = t(locale, 'avatar.preview.expired');
      }
      await interaction.editReply({ content, components: [], files: [], attachments: [] });
    }),
  };
}
