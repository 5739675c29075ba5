/** What /profile and /banner share: the bot's own refusals, text checks, banner attachments. */
import type { Attachment } from 'discord.js';
import type { StoredImage } from '../../src/avatar/history.js';
import type { CropMode } from '../../src/avatar/normalize.js';
import { UserFacingError } from '../../src/errors.js';
import type { ProfilePart } from '../../src/profile/parts.js';
import { checkProfileText } from '../../src/profile/text.js';
import { normalisedImage } from '../../src/bot/attachment.js';
import type { Services } from '../../src/services.js';

/** The bot's own refusals of a /profile command (words: `error.<kind>`). */
export const PROFILE_COMMAND_ERROR_KINDS = ['profile-nothing-given', 'bio-text-or-clear'] as const;

/**
 * Text options' `max_length`: Discord counts UTF-16 units, X counts graphemes (src/profile/text.ts), and one
 * grapheme can take many units (a family of four with skin tones is 19, a flag 4). So Discord is given 20
 * units per character X allows and the bot counts the graphemes itself, before anything is sent. Counting
 * 3,200 units costs well under a millisecond (text.ts segments in windows).
 */
export const UNITS_PER_GRAPHEME = 20;
export const NAME_MAX_UNITS = 50 * UNITS_PER_GRAPHEME;
export const BIO_MAX_UNITS = 160 * UNITS_PER_GRAPHEME;

/** Refuses (ProfileTextError, with the count and X's limit) a name or bio X would refuse. */
export function checkTexts(texts: { name?: string | undefined; bio?: string | undefined }): void {
  checkProfileText({ ...(texts.name === undefined ? {} : { name: texts.name }), ...(texts.bio === undefined ? {} : { description: texts.bio }) });
}

/** An attachment downloaded safely and made a 1500x500 banner with the command's crop and background. */
export async function attachedBanner(
  attachment: Attachment,
  options: { crop?: CropMode | undefined; background?: string | undefined },
  services: Services,
): Promise<{ image: StoredImage; label: string }> {
  const { data, format } = await normalisedImage(attachment, 'banner', options, services);
  return { image: { data, format }, label: `attachment ${attachment.name}` };
}

/** Refuses a /profile apply that names no part. */
export function requireSomePart(given: Record<ProfilePart, unknown>): void {
  if (Object.values(given).every((value) => value === undefined)) throw new UserFacingError('profile-nothing-given');
}
