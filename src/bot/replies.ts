/**
 * Turning outcomes into Discord messages: the applied-avatar embed, and one specific, ephemeral message
 * for every failure a user can meet. Handlers switch on error kinds here, never on message text.
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  type InteractionEditReplyOptions,
} from 'discord.js';
import { AccountError } from '../account-errors.js';
import type { AppliedAvatar } from '../avatar-changes.js';
import { BackgroundColourError, ImageError } from '../avatar/normalize.js';
import { DownloadError } from '../download.js';
import { UserFacingError } from '../errors.js';
import type { Logger } from '../log.js';
import { StoreError } from '../store/backend.js';
import { VaultError } from '../store/vault.js';
import { XApiError } from '../x/errors.js';
import { customId } from './command.js';

export const BRAND_COLOUR = 0x1d9bf0;

export function linkButtonRow(label = 'Link your X account'): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId('twitter', 'start')).setLabel(label).setStyle(ButtonStyle.Primary),
  );
}

export function avatarFile(image: { data: Buffer; format: 'jpeg' | 'png' }, name = 'avatar'): AttachmentBuilder {
  return new AttachmentBuilder(image.data, { name: `${name}.${image.format === 'jpeg' ? 'jpg' : 'png'}` });
}

export function appliedReply(applied: AppliedAvatar, headline: string): InteractionEditReplyOptions {
  const file = avatarFile(applied.image);
  const embed = new EmbedBuilder()
    .setColor(BRAND_COLOUR)
    .setTitle(headline)
    .setDescription(`@${applied.user.screenName}'s X avatar is now this image.\n400x400: ${applied.user.profileImage.size400}`)
    .setImage(`attachment://${file.name}`)
    .setURL(applied.user.profileImage.size400);
  const notes = [
    applied.originalNotSaved ? `Note: your previous X avatar could not be saved (${applied.originalNotSaved.replace(/\.$/, '')}), so /avatar revert cannot bring it back.` : '',
    applied.notRecorded ? NOT_RECORDED_NOTE : '',
  ].filter(Boolean);
  return { content: notes.join('\n'), embeds: [embed], files: [file], components: [] };
}

/** Said when X changed the avatar but the bot's database did not record it (it keeps trying). */
export const NOT_RECORDED_NOTE =
  "Your X avatar did change, but the bot's database is not answering, so this change is not in /avatar history yet. It will be added as soon as the database is back.";

/** The store was down or too slow: whatever the command was doing stopped before changing anything. */
export const STORE_UNREACHABLE_REPLY = "The bot's database is not answering right now. Nothing was changed; try again in a minute.";

/** The reply for a failure, and whether it is the bot's fault (logged as an error). */
export function failureReply(error: unknown, logger: Logger): InteractionEditReplyOptions {
  const plain = (content: string): InteractionEditReplyOptions => ({ content, embeds: [], files: [], components: [] });

  if (error instanceof VaultError) {
    if (error.kind === 'damaged-link') {
      // The user is told to unlink and link again; which key is missing is the operator's business.
      logger.warn({ err: error, operator: error.operatorMessage }, 'a stored X link cannot be opened');
      return plain(error.userMessage);
    }
    return { ...plain(error.userMessage), components: [linkButtonRow()] };
  }
  if (error instanceof AccountError) {
    if (error.cause !== undefined) logger.warn({ err: error }, 'a stored sign-in link cannot be opened');
    return error.kind === 'link-revoked' ? { ...plain(error.userMessage), components: [linkButtonRow('Link again')] } : plain(error.userMessage);
  }
  if (error instanceof XApiError) {
    switch (error.kind) {
      case 'token-revoked':
        return { ...plain(`${error.userMessage} Nothing was changed.`), components: [linkButtonRow('Link again')] };
      case 'rate-limited':
      case 'image-rejected':
      case 'account-locked':
        return plain(`${error.userMessage} Nothing was changed.`);
      case 'transient':
        return plain(`X is not responding properly right now (tried several times). Nothing was changed; try again in a few minutes.`);
      case 'auth':
      case 'forbidden':
      case 'unexpected':
        logger.error({ err: error, kind: error.kind }, 'X refused the bot');
        return plain(`${error.userMessage} Nothing was changed.`);
    }
  }
  if (error instanceof ImageError || error instanceof BackgroundColourError || error instanceof DownloadError) return plain(error.userMessage);
  if (error instanceof StoreError) {
    logger.warn({ err: error, kind: error.kind }, 'store failed');
    return plain(error.kind === 'unreachable' ? STORE_UNREACHABLE_REPLY : `${error.userMessage} Nothing was changed.`);
  }
  if (error instanceof UserFacingError) return plain(error.userMessage);
  logger.error({ err: error }, 'command failed');
  return plain('Something went wrong on our side and it has been logged. Nothing was changed; try again later.');
}
