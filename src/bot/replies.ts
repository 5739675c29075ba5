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
  escapeMarkdown,
  type APIEmbed,
  type InteractionEditReplyOptions,
} from 'discord.js';
import { AccountError } from '../accounts/errors.js';
import { avatarOf, type AppliedAvatar, type PartResults, type ReplyTarget } from '../avatar/changes.js';
import type { AppliedChange } from '../changes/pipeline.js';
import { localeOf } from '../i18n/locale.js';
import { PROFILE_PARTS } from '../profile/parts.js';
import type { AvatarSource } from '../avatar/history.js';
import { BackgroundColourError, ImageError } from '../avatar/normalize.js';
import { DownloadError } from '../download.js';
import { UserFacingError } from '../errors.js';
import { errorWords, storedReasonWords } from '../i18n/render-error.js';
import type { Locale } from '../i18n/locale.js';
import { t } from '../i18n/t.js';
import type { Logger } from '../log.js';
import { StoreError } from '../store/backend.js';
import { ChangeDeferred } from '../changes/pipeline.js';
import { VaultError } from '../accounts/vault.js';
import { truncate } from '../text.js';
import { XApiError } from '../x/errors.js';
import { customId } from './command.js';

export { excerpt, listWithMore, truncate } from '../text.js';

export const BRAND_COLOUR = 0x1d9bf0;

/** What Discord accepts in one message; anything over is refused with 50035 and the user sees nothing. */
export const DISCORD_LIMITS = {
  content: 2000,
  embeds: 10,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  authorName: 256,
  embedTotal: 6000,
  selectOptions: 25,
  selectOptionText: 100,
  choiceText: 100,
  buttonLabel: 80,
} as const;

type EmbedInput = APIEmbed | { toJSON(): APIEmbed };

/** One embed within the per-field limits and within `budget` characters of text; undefined when nothing fits. */
function fitEmbed(input: EmbedInput, budget: number): { embed: APIEmbed; used: number } | undefined {
  if (budget <= 0) return undefined;
  const embed: APIEmbed = structuredClone('toJSON' in input && typeof input.toJSON === 'function' ? input.toJSON() : (input as APIEmbed));
  let left = budget;
  const take = (text: string, max: number): string => {
    const cut = truncate(text, Math.min(max, left));
    left -= cut.length;
    return cut;
  };
  if (embed.title !== undefined) embed.title = take(embed.title, DISCORD_LIMITS.embedTitle);
  if (embed.author?.name !== undefined) embed.author = { ...embed.author, name: take(embed.author.name, DISCORD_LIMITS.authorName) };
  if (embed.description !== undefined) embed.description = take(embed.description, DISCORD_LIMITS.embedDescription);
  if (embed.fields) {
    embed.fields = embed.fields
      .slice(0, DISCORD_LIMITS.embedFields)
      .map((field) => ({ ...field, name: take(field.name, DISCORD_LIMITS.fieldName) || '…', value: take(field.value, DISCORD_LIMITS.fieldValue) || '…' }));
  }
  if (embed.footer?.text !== undefined) embed.footer = { ...embed.footer, text: take(embed.footer.text, DISCORD_LIMITS.footer) };
  return { embed, used: budget - left };
}

/**
 * Any message the bot sends, made to fit Discord's limits (content 2,000; 10 embeds with their field
 * limits and 6,000 characters of text in all). Every reply, edit, follow-up and update goes through here
 * (bot.ts wraps each interaction), and so do channel posts and DMs. Lists should be shortened by
 * `listWithMore` where they are built, so the user reads "and N more"; this is the net under them.
 */
export function fitMessage<T>(message: T): T {
  if (typeof message === 'string') return truncate(message, DISCORD_LIMITS.content) as T;
  if (!message || typeof message !== 'object') return message;
  const fitted = { ...message } as Record<string, unknown>;
  if (typeof fitted.content === 'string') fitted.content = truncate(fitted.content, DISCORD_LIMITS.content);
  if (Array.isArray(fitted.embeds)) {
    let budget: number = DISCORD_LIMITS.embedTotal;
    const embeds: APIEmbed[] = [];
    for (const input of (fitted.embeds as EmbedInput[]).slice(0, DISCORD_LIMITS.embeds)) {
      const fit = fitEmbed(input, budget);
      if (!fit) break;
      budget -= fit.used;
      embeds.push(fit.embed);
    }
    fitted.embeds = embeds;
  }
  return fitted as T;
}

/** The button that starts /twitter link; `label` in the user's language (`common.button.link`, `common.button.link-again`). */
export function linkButtonRow(label = t('en-US', 'common.button.link')): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId('twitter', 'start')).setLabel(label).setStyle(ButtonStyle.Primary),
  );
}

/** The button that opens the PIN form of a pending sign-in again (commands/twitter.ts handles `twitter:pin`). */
function pinButtonRow(label: string, requestToken: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId('twitter', 'pin', requestToken)).setLabel(label).setStyle(ButtonStyle.Primary),
  );
}

export function avatarFile(image: { data: Buffer; format: 'jpeg' | 'png' }, name = 'avatar'): AttachmentBuilder {
  return new AttachmentBuilder(image.data, { name: `${name}.${image.format === 'jpeg' ? 'jpg' : 'png'}` });
}

/** The title of an applied-avatar embed: what the change was. */
export type AppliedHeadline = 'updated' | 'again' | 'original-restored' | 'previous-restored';

function appliedEmbed(applied: AppliedAvatar, headline: AppliedHeadline, locale: Locale): EmbedBuilder {
  return new EmbedBuilder()
    .setColor(BRAND_COLOUR)
    .setTitle(t(locale, `avatar.applied.${headline}`))
    .setDescription(t(locale, 'avatar.applied.description', { screenName: applied.user.screenName, url: applied.user.profileImage.size400 }));
}

export function appliedReply(applied: AppliedAvatar, headline: AppliedHeadline, locale: Locale): InteractionEditReplyOptions {
  const file = avatarFile(applied.image);
  const embed = appliedEmbed(applied, headline, locale).setImage(`attachment://${file.name}`).setURL(applied.user.profileImage.size400);
  const notes = [
    applied.originalNotSaved ? t(locale, 'avatar.applied.original-not-saved', { reason: storedReasonWords(applied.originalNotSaved, locale) }) : '',
    applied.notRecorded ? t(locale, 'avatar.note.not-recorded') : '',
  ].filter(Boolean);
  return { content: notes.join('\n'), embeds: [embed], files: [file], components: [] };
}

/** Where a command's result goes, should the bot restart before X has processed the change. */
export const replyTo = (interaction: { applicationId: string; token: string; locale: string }): { replyTarget: ReplyTarget } => ({
  replyTarget: { applicationId: interaction.applicationId, interactionToken: interaction.token, locale: localeOf(interaction.locale) },
});

/** The title of an applied-part embed: what the change was. */
export type PartHeadline = Exclude<AppliedHeadline, 'again'>;

/** What the user typed or X shows, made inert in a message: no markdown (a mention in an embed pings nobody). */
const shownText = (text: string) => escapeMarkdown(text);

/** Notes under any applied part: the original could not be saved, or the store did not record the change. */
function partNotes(applied: AppliedChange, locale: Locale): string {
  return [
    applied.originalNotSaved ? t(locale, 'profile.applied.original-not-saved', { reason: storedReasonWords(applied.originalNotSaved, locale) }) : '',
    applied.notRecorded ? t(locale, 'profile.note.not-recorded') : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * A changed part of the profile as X shows it now: the avatar as appliedReply shows it; the banner with its
 * image and URL (or "removed" when it went back to none); the name or bio as X returned it.
 */
export function partAppliedReply(applied: AppliedChange, headline: PartHeadline, locale: Locale): InteractionEditReplyOptions {
  if (applied.part === 'avatar') return appliedReply(avatarOf(applied), headline, locale);
  const { screenName } = applied.user;
  const embed = new EmbedBuilder().setColor(BRAND_COLOUR);
  const files: AttachmentBuilder[] = [];
  switch (applied.part) {
    case 'banner': {
      const url = applied.user.bannerUrl;
      if (applied.value === 'none' || url === undefined) {
        embed.setTitle(t(locale, 'profile.applied.banner.removed')).setDescription(t(locale, 'profile.applied.banner.removed-description', { screenName }));
        break;
      }
      embed.setTitle(t(locale, `profile.applied.banner.${headline}`)).setDescription(t(locale, 'profile.applied.banner.description', { screenName, url })).setURL(url);
      if (applied.image) {
        const file = avatarFile(applied.image, 'banner');
        files.push(file);
        embed.setImage(`attachment://${file.name}`);
      }
      break;
    }
    case 'name':
      embed.setTitle(t(locale, `profile.applied.name.${headline}`)).setDescription(t(locale, 'profile.applied.name.description', { screenName, name: shownText(applied.user.name) }));
      break;
    case 'bio': {
      const bio = applied.user.description ?? '';
      if (bio === '') embed.setTitle(t(locale, 'profile.applied.bio.cleared')).setDescription(t(locale, 'profile.applied.bio.cleared-description', { screenName }));
      else embed.setTitle(t(locale, `profile.applied.bio.${headline}`)).setDescription(t(locale, 'profile.applied.bio.description', { screenName, bio: shownText(bio) }));
      break;
    }
  }
  return { content: partNotes(applied, locale), embeds: [embed], files, components: [] };
}

/** /profile apply: each part asked for, in profile order, with what X shows now or why it was not changed. */
export function partsReply(results: PartResults, locale: Locale, logger: Logger): InteractionEditReplyOptions {
  const embed = new EmbedBuilder().setColor(BRAND_COLOUR).setTitle(t(locale, 'profile.apply.title'));
  const notes = new Set<string>();
  for (const part of PROFILE_PARTS) {
    const result = results[part];
    if (!result) continue;
    let value: string;
    if ('error' in result) value = String(failureReply(result.error, logger, locale).content ?? '');
    else {
      const { user } = result.applied;
      const note = partNotes(result.applied, locale);
      if (note) notes.add(note);
      if (part === 'avatar') value = t(locale, 'profile.apply.changed.avatar', { url: user.profileImage.size400 });
      else if (part === 'banner') value = t(locale, 'profile.apply.changed.banner', { url: user.bannerUrl ?? '' });
      else {
        const text = part === 'name' ? user.name : (user.description ?? '');
        value = text === '' ? t(locale, 'profile.apply.changed.cleared') : t(locale, 'profile.apply.changed.text', { text: shownText(text) });
      }
    }
    embed.addFields({ name: t(locale, `profile.apply.part.${part}`), value });
  }
  return { content: [...notes].join('\n'), embeds: [embed], files: [], components: [] };
}

/** The result of a command's change that finished after the bot restarted: no attachment (sent over plain REST). */
export function recoveredReply(
  applied: AppliedChange & { restoredOriginal?: boolean },
  source: AvatarSource,
  locale: Locale,
): { content: string; embeds: ReturnType<EmbedBuilder['toJSON']>[]; components: [] } {
  const headline: AppliedHeadline = source === 'revert' ? (applied.restoredOriginal ? 'original-restored' : 'previous-restored') : source === 'history' ? 'again' : 'updated';
  const notes = [t(locale, 'avatar.note.restarted'), applied.notRecorded ? t(locale, 'avatar.note.not-recorded') : ''].filter(Boolean);
  if (applied.part === 'avatar') {
    const embed = appliedEmbed(avatarOf(applied), headline, locale).setImage(applied.user.profileImage.size400);
    return { content: notes.join('\n'), embeds: [embed.toJSON()], components: [] };
  }
  // Plain REST carries no attachment: the banner is shown from X's URL.
  const { image: _sent, ...withoutImage } = applied;
  const [embed] = (partAppliedReply(withoutImage, headline === 'again' ? 'updated' : headline, locale).embeds ?? []) as EmbedBuilder[];
  if (applied.part === 'banner' && applied.user.bannerUrl) embed?.setImage(applied.user.bannerUrl);
  return { content: notes.join('\n'), embeds: embed ? [embed.toJSON()] : [], components: [] };
}

/** Said when X changed the avatar but the bot's database did not record it (it keeps trying); in English, for tests and logs. */
export const NOT_RECORDED_NOTE = t('en-US', 'avatar.note.not-recorded');

/** The store was down or too slow: whatever the command was doing stopped before changing anything. */
export const STORE_UNREACHABLE_REPLY = t('en-US', 'bot.error.unreachable');

/** The reply for a failure, in the user's words: every kind through the catalogue (src/i18n/render-error.ts). */
export function failureReply(error: unknown, logger: Logger, locale: Locale): InteractionEditReplyOptions {
  const plain = (content: string): InteractionEditReplyOptions => ({ content, embeds: [], files: [], components: [] });
  const words = (known: UserFacingError) => errorWords(known, locale, 'bot');
  /** Words of a change that stopped before X changed anything: the bot's frame says so. */
  const unchanged = (known: UserFacingError) => t(locale, 'bot.error.frame.nothing-changed', { words: words(known) });

  if (error instanceof VaultError) {
    if (error.kind === 'damaged-link') {
      // The user is told to unlink and link again; which key is missing is the operator's business.
      logger.warn({ err: error, operator: error.operatorMessage }, 'a stored X link cannot be opened');
      return plain(words(error));
    }
    return { ...plain(words(error)), components: [linkButtonRow(t(locale, 'bot.error.button.link'))] };
  }
  if (error instanceof AccountError) {
    if (error.cause !== undefined && error.kind !== 'invalid-pin') logger.warn({ err: error }, 'a stored sign-in link cannot be opened');
    if (error.kind === 'link-revoked') return { ...plain(words(error)), components: [linkButtonRow(t(locale, 'bot.error.button.link-again'))] };
    // A PIN X refused (or that is no PIN): the same sign-in is still pending, so the PIN can be entered again.
    if ((error.kind === 'invalid-pin' || error.kind === 'pin-format') && error.requestToken !== undefined) {
      return { ...plain(words(error)), components: [pinButtonRow(t(locale, 'bot.error.button.pin-again'), error.requestToken)] };
    }
    return plain(words(error));
  }
  if (error instanceof XApiError) {
    switch (error.kind) {
      case 'token-revoked':
        return { ...plain(unchanged(error)), components: [linkButtonRow(t(locale, 'bot.error.button.link-again'))] };
      case 'rate-limited':
      case 'image-rejected':
      case 'profile-text-too-long':
      case 'banner-too-large':
      case 'banner-unprocessable':
      case 'account-locked':
        return plain(unchanged(error));
      case 'transient':
        return plain(words(error)); // its bot words say that nothing was changed and that the bot tried several times
      case 'app-blocked':
        return plain(words(error)); // X refuses the app, not the user: no relink button; its words say nothing was changed
      case 'auth':
      case 'forbidden':
      case 'unexpected':
        logger.error({ err: error, kind: error.kind }, 'X refused the bot');
        return plain(unchanged(error));
    }
  }
  if (error instanceof ImageError || error instanceof BackgroundColourError || error instanceof DownloadError) return plain(words(error));
  if (error instanceof ChangeDeferred) {
    // The upload reached X; the journal finishes it at the next start and edits this reply then.
    return plain(t(locale, 'bot.error.frame.deferred'));
  }
  if (error instanceof StoreError) {
    logger.warn({ err: error, kind: error.kind }, 'store failed');
    return plain(error.kind === 'unreachable' ? words(error) : unchanged(error));
  }
  if (error instanceof UserFacingError) return plain(words(error));
  logger.error({ err: error }, 'command failed');
  return plain(t(locale, 'bot.error.frame.internal'));
}
