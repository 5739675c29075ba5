/**
 * The avatar use cases: apply an image to a user's linked X account, preview one first, re-apply one
 * from history, revert. Before a user's first change the avatar they had is saved so it can be
 * restored. A failed step changes nothing: history and the saved original are written only after
 * X accepted the upload.
 */
import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { AccountError } from './account-errors.js';
import type { AvatarNormalizer } from './avatar/normalize.js';
import type { Downloader } from './download.js';
import type { KeyedLock } from './keyed-lock.js';
import type { Logger } from './log.js';
import type { Store } from './store/backend.js';
import type { AvatarHistory, AvatarSource, HistoryEntry, OriginalAvatar, StoredImage, UserHistory } from './store/history.js';
import type { LinkedAccount, TokenVault } from './store/vault.js';
import type { XClient, XUser } from './x/client.js';
import { XApiError } from './x/errors.js';

export const PREVIEW_TTL_MS = 15 * 60_000;

export interface AppliedAvatar {
  /** The account after X processed the image: the final URLs. */
  user: XUser;
  image: StoredImage;
  /** The history entry now current, if any (reverting to the original leaves none). */
  entry: HistoryEntry | undefined;
  /** Set when this was the first change and the avatar from before could not be saved. */
  originalNotSaved?: string;
}

export interface Preview {
  id: string;
  discordUserId: string;
  image: StoredImage;
  label: string;
}

interface StoredPreview {
  discordUserId: string;
  data: string;
  format: StoredImage['format'];
  label: string;
  /** Kept (without the image) once applied, so a second click on Apply is told apart from an expired preview. */
  used?: true;
}

export interface AvatarChanges {
  /** Throws when the user has no link or a revoked one: checked before any download. */
  requireActiveLink(discordUserId: string): Promise<LinkedAccount>;
  apply(discordUserId: string, image: StoredImage, source: AvatarSource, label: string): Promise<AppliedAvatar>;
  createPreview(discordUserId: string, image: StoredImage, label: string): Promise<Preview>;
  /** Apply a preview that the same user created; it is used once ('preview-used' afterwards). */
  applyPreview(discordUserId: string, previewId: string): Promise<AppliedAvatar>;
  /** Throws 'preview-used' when it was applied (or is being applied) already. */
  discardPreview(discordUserId: string, previewId: string): Promise<void>;
  history(discordUserId: string): Promise<UserHistory>;
  historyImage(discordUserId: string, hash: string): Promise<StoredImage | undefined>;
  reapply(discordUserId: string, entryId: string): Promise<AppliedAvatar>;
  /** Back to the avatar before the current one; the saved original when the current one is the first change. */
  revert(discordUserId: string): Promise<AppliedAvatar & { restoredOriginal: boolean }>;
  forget(discordUserId: string): Promise<void>;
}

export interface AvatarChangesDeps {
  store: Store;
  vault: TokenVault;
  history: AvatarHistory;
  x: XClient;
  normalizer: AvatarNormalizer;
  /** Downloads from X's image hosts only. */
  xImages: Downloader;
  userLock: KeyedLock;
  logger: Logger;
}

export function createAvatarChanges(deps: AvatarChangesDeps): AvatarChanges {
  const { vault, history, x, logger } = deps;
  const previews: Keyv<StoredPreview> = deps.store.namespace<StoredPreview>('previews');

  async function activeAccount(discordUserId: string): Promise<LinkedAccount> {
    const account = await vault.require(discordUserId);
    if (account.status === 'revoked') {
      throw new AccountError('link-revoked', 'Your X link was revoked or has expired. Link your X account again with /twitter link.');
    }
    return account;
  }

  /** A broken link is marked so that commands and schedules stop using it until the user relinks. */
  async function noticeRevocation<T>(discordUserId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof XApiError && error.kind === 'token-revoked') await vault.setStatus(discordUserId, 'revoked');
      throw error;
    }
  }

  /** The avatar the user has now, to restore later. A failure is recorded, never fatal. */
  async function captureOriginal(account: LinkedAccount): Promise<{ original: OriginalAvatar; image?: StoredImage; currentUrl?: string }> {
    const savedAt = new Date().toISOString();
    const current = await x.verifyCredentials(account); // also proves the link works before we upload
    try {
      const bytes = await deps.xImages.download(current.profileImage.original);
      const avatar = await deps.normalizer.normalize(bytes, { crop: 'centre' });
      const image = { data: avatar.data, format: avatar.format };
      return { original: { saved: true, hash: '', format: avatar.format, savedAt, url: current.profileImage.size400 }, image, currentUrl: current.profileImage.normal };
    } catch (error) {
      const reason = error instanceof Error && 'userMessage' in error ? String((error as { userMessage: unknown }).userMessage) : 'the download failed';
      logger.warn({ err: error, xUserId: account.xUserId }, 'could not save the original avatar');
      return { original: { saved: false, reason, savedAt }, currentUrl: current.profileImage.normal };
    }
  }

  /** Upload under the user's lock; `record` writes history only once X has accepted the image. */
  async function upload(
    discordUserId: string,
    image: StoredImage,
    record: (user: XUser, captured: Awaited<ReturnType<typeof captureOriginal>> | undefined) => Promise<HistoryEntry | undefined>,
  ): Promise<AppliedAvatar> {
    return noticeRevocation(discordUserId, async () => {
      const account = await activeAccount(discordUserId);
      const before = await history.get(discordUserId);
      const captured = before.original ? undefined : await captureOriginal(account);
      const previousUrl = captured?.currentUrl ?? before.entries.at(-1)?.url400;
      const user = await x.updateProfileImage(account, image, previousUrl ? { previousUrl } : {});
      if (captured) {
        let original = captured.original;
        if (captured.image && original.saved) original = { ...original, hash: await history.putImage(discordUserId, captured.image) };
        await history.saveOriginal(discordUserId, original);
      }
      const entry = await record(user, captured);
      return {
        user,
        image,
        entry,
        ...(captured && !captured.original.saved ? { originalNotSaved: captured.original.reason } : {}),
      };
    });
  }

  /** Call under the user's lock. */
  function applyLocked(discordUserId: string, image: StoredImage, source: AvatarSource, label: string): Promise<AppliedAvatar> {
    return upload(discordUserId, image, async (user) => {
      const hash = await history.putImage(discordUserId, image);
      return history.append(discordUserId, { hash, format: image.format, source, label, url400: user.profileImage.size400 });
    });
  }

  function apply(discordUserId: string, image: StoredImage, source: AvatarSource, label: string): Promise<AppliedAvatar> {
    return deps.userLock.run(discordUserId, () => applyLocked(discordUserId, image, source, label));
  }

  async function loadPreview(discordUserId: string, previewId: string): Promise<StoredPreview> {
    const preview = await previews.get(previewId);
    if (!preview || preview.discordUserId !== discordUserId) {
      throw new AccountError('preview-expired', 'That preview has expired (previews last 15 minutes). Run /avatar preview again.');
    }
    if (preview.used) throw new AccountError('preview-used', 'That preview has already been applied.');
    return preview;
  }

  return {
    requireActiveLink: activeAccount,
    apply,

    async createPreview(discordUserId, image, label) {
      const id = randomUUID();
      await previews.set(id, { discordUserId, data: image.data.toString('base64'), format: image.format, label }, PREVIEW_TTL_MS);
      return { id, discordUserId, image, label };
    },

    applyPreview(discordUserId, previewId) {
      // Under the user's lock, so a second click on Apply waits, finds the preview used and uploads nothing.
      return deps.userLock.run(discordUserId, async () => {
        const preview = await loadPreview(discordUserId, previewId);
        const applied = await applyLocked(discordUserId, { data: Buffer.from(preview.data, 'base64'), format: preview.format }, 'preview', preview.label);
        await previews.set(previewId, { ...preview, data: '', used: true }, PREVIEW_TTL_MS);
        return applied;
      });
    },

    discardPreview(discordUserId, previewId) {
      return deps.userLock.run(discordUserId, async () => {
        await loadPreview(discordUserId, previewId);
        await previews.delete(previewId);
      });
    },

    history: (discordUserId) => history.get(discordUserId),
    historyImage: (discordUserId, hash) => history.image(discordUserId, hash),

    reapply(discordUserId, entryId) {
      // Read under the user's lock: a second choice of the same entry (a double pick, or the old menu right
      // after) finds it is the current avatar already and uploads nothing, like a second click on Apply.
      return deps.userLock.run(discordUserId, async () => {
        const { entries } = await history.get(discordUserId);
        const entry = entries.find((candidate) => candidate.id === entryId);
        const image = entry && (await history.image(discordUserId, entry.hash));
        if (!entry || !image) throw new AccountError('history-entry-gone', 'That avatar is no longer in your history.');
        if (entries.at(-1)?.hash === entry.hash) {
          throw new AccountError('already-current', 'That avatar is already your current one, so nothing was uploaded.');
        }
        return applyLocked(discordUserId, image, 'history', entry.label);
      });
    },

    revert(discordUserId) {
      return deps.userLock.run(discordUserId, async () => {
        const { original, entries } = await history.get(discordUserId);
        if (entries.length === 0) {
          throw new AccountError('nothing-to-revert', 'There is nothing to revert: your X avatar is the one you had before using the bot.');
        }
        const target = entries.at(-2);
        if (!target && !original?.saved) {
          throw new AccountError(
            'nothing-to-revert',
            `Your avatar from before the first change could not be saved${original?.saved === false ? ` (${original.reason.replace(/\.$/, '')})` : ''}, so there is nothing to go back to.`,
          );
        }
        const hash = target ? target.hash : (original as Extract<OriginalAvatar, { saved: true }>).hash;
        const image = await history.image(discordUserId, hash);
        if (!image) throw new AccountError('history-entry-gone', 'The previous avatar is no longer stored, so it cannot be restored.');
        const applied = await upload(discordUserId, image, async (user) => {
          const remaining = entries.slice(0, -1);
          const current = remaining.at(-1);
          if (current) remaining[remaining.length - 1] = { ...current, url400: user.profileImage.size400 };
          await history.setEntries(discordUserId, remaining);
          return remaining.at(-1);
        });
        return { ...applied, restoredOriginal: !target };
      });
    },

    forget: (discordUserId) => deps.userLock.run(discordUserId, () => history.forget(discordUserId)),
  };
}
