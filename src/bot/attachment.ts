import type { Avatar } from '../avatar/normalize.js';
import type { Services } from '../services.js';
import type { backgroundOption, cropOption, imageAttachmentOption, OptionsOf } from './options.js';

/** The image options a command reads (`image`, and `crop` and `background` where its definition has them). */
export type ImageOptions = OptionsOf<{ options: readonly [typeof imageAttachmentOption] }> & Partial<OptionsOf<{ options: readonly [typeof cropOption, typeof backgroundOption] }>>;

/**
 * The `image` attachment of a command, downloaded safely (allowed hosts, size cap, deadline) and
 * normalised with the command's `crop` and `background` options when it has them.
 */
export async function normalisedAttachment(options: ImageOptions, services: Services): Promise<{ avatar: Avatar; filename: string }> {
  const attachment = options.image;
  const bytes = await services.attachments.download(attachment.url, { declaredSize: attachment.size });
  const avatar = await services.normalizer.normalize(bytes, { crop: options.crop, background: options.background });
  return { avatar, filename: attachment.name };
}
