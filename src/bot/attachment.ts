import type { ChatInputCommandInteraction } from 'discord.js';
import type { Avatar } from '../avatar/normalize.js';
import type { Services } from '../services.js';
import { choiceOf, cropOption } from './options.js';

/**
 * The `image` attachment of a command, downloaded safely (allowed hosts, size cap, deadline) and
 * normalised with the command's `crop` and `background` options when it has them.
 */
export async function normalisedAttachment(interaction: ChatInputCommandInteraction, services: Services): Promise<{ avatar: Avatar; filename: string }> {
  const attachment = interaction.options.getAttachment('image', true);
  const bytes = await services.attachments.download(attachment.url, { declaredSize: attachment.size });
  const avatar = await services.normalizer.normalize(bytes, {
    crop: choiceOf(cropOption, interaction.options.getString('crop')),
    background: interaction.options.getString('background') ?? undefined,
  });
  return { avatar, filename: attachment.name };
}
