import type { Attachment } from 'discord.js';
import type { Avatar, Banner, NormalizeOptions } from '../avatar/normalize.js';
import type { Services } from '../services.js';
import type { backgroundOption, cropOption, imageAttachmentOption, OptionsOf } from './options.js';

/** The image options a command reads (`image`, and `crop` and `background` where its definition has them). */
export type ImageOptions = OptionsOf<{ options: readonly [typeof imageAttachmentOption] }> & Partial<OptionsOf<{ options: readonly [typeof cropOption, typeof backgroundOption] }>>;

/**
 * The `image` attachment of a command, downloaded safely (allowed hosts, size cap, deadline) and
 * normalised with the command's `crop` and `background` options when it has them.
 */
export async function normalisedAttachment(options: ImageOptions, services: Services): Promise<{ avatar: Avatar; filename: string }> {
  const avatar = await normalisedImage(options.image, 'avatar', options, services);
  return { avatar, filename: options.image.name };
}

/** An attachment downloaded safely and normalised as an avatar (400x400) or a banner (1500x500). */
export async function normalisedImage<T extends 'avatar' | 'banner'>(
  attachment: Attachment,
  target: T,
  options: Pick<NormalizeOptions, 'crop' | 'background'>,
  services: Services,
): Promise<T extends 'avatar' ? Avatar : Banner> {
  const bytes = await services.attachments.download(attachment.url, { declaredSize: attachment.size });
  const given = { crop: options.crop, background: options.background };
  return (target === 'avatar' ? services.normalizer.normalize(bytes, given) : services.normalizer.banner(bytes, given)) as Promise<T extends 'avatar' ? Avatar : Banner>;
}
