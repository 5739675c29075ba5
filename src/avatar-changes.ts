/**
 * The avatar use cases: apply an image to a user's linked X account, preview one first, re-apply one
 * from history, revert. Before a user's first change the avatar they had is saved so it can be
 * restored. A failed step changes nothing: history and the saved original are written only after
 * X accepted the upload. When those writes fail (the store is down) the change is still reported as
 * made, with a note, and the writes are retried in the background until the store is back.
 */
import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { AccountError } from './account-errors.js';
import type { AvatarNormalizer } from './avatar/normalize.js';
import type { Downloader } from './download.js';
import type { KeyedLock } from './keyed-lock.js';
import type { Logger } from './log.js';
import type { Store } from './store/backend.js';
import { hashImage, type AvatarHistory, type AvatarSource, type HistoryEntry, type OriginalAvatar, type StoredImage, type UserHistory } from './store/history.js';
import type { LinkedAccount, TokenVault } from './store/vault.js';
import type { XClient, XUser } from './x/client.js';
import { XApiError } from './x/errors.js';

export const PREVIEW_TTL_MS = 15 * 60_000;
/** Previews a user can hold at once (each up to ~1 MB stored); a new one replaces the oldest. */
export const PREVIEWS_PER_USER = 3;
/** The keyv namespaces whose entries expire; the sweeper deletes them on SQLite and PostgreSQL. */
export const PREVIEW_NAMESPACES = ['previews', 'preview-index'];

export interface AppliedAvatar {
  /** The account after X processed the image: the final URLs. */
  user: XUser;
  image: StoredImage;
  /** The history entry now current, if any (reverting to the original leaves none). */
  entry: HistoryEntry | undefined;
  /** Set when this was the first change and the avatar from before could not be saved. */
  originalNotSaved?: string;
  /** X changed the avatar but the store failed to record it; the record is being retried. */
  notRecorded?: true;
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
  /** Kept (without the image) once a newer preview pushed it out, so Apply can say so. */
  replaced?: true;
}

/** A user's live previews, oldest first, so the cap knows which to replace. */
interface PreviewIndex {
  previews: Array<{ id: string; expiresAt: number }>;
}

export interface AvatarChanges {
  /** Throws when the user has no link or a revoked one: checked before any download. */
  requireActiveLink(discordUserId: string): Promise<LinkedAccount>;
  apply(discordUserId: string, image: StoredImage, source: AvatarSource, label: string): Promise<AppliedAvatar>;
  /** Needs an active link; the user's oldest preview is replaced when they hold PREVIEWS_PER_USER already. */
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
  /** Stops retrying records (when the bot stops). */
  close(): void;
}

/** Records that failed after X accepted are retried 1 s, 2 s, 4 s … 30 s apart, for about 15 minutes. */
export const RECORD_RETRY_ATTEMPTS = 35;
const recordRetryDelay = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000);

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
  const previewIndex: Keyv<PreviewIndex> = deps.store.namespace<PreviewIndex>('preview-index');
  const retries = new Set<NodeJS.Timeout>();

  /** Retry a record that X's change needs, until it is written or the attempts run out. */
  function recordLater(discordUserId: string, write: () => Promise<unknown>, attempt = 1): void {
    const timer = setTimeout(() => {
      retries.delete(timer);
      write().then(
        () => logger.info({ discordUserId, attempt }, 'avatar change recorded after a store failure'),
        (error: unknown) => {
          if (attempt < RECORD_RETRY_ATTEMPTS) return recordLater(discordUserId, write, attempt + 1);
          logger.error({ err: error, discordUserId }, 'gave up recording an avatar change');
        },
      );
    }, recordRetryDelay(attempt));
    timer.unref();
    retries.add(timer);
  }

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

  /**
   * Upload under the user's lock; `record` writes history only once X has accepted the image. It must be
   * safe to run again (it is retried when the store fails); `planned` is what it returns when it could not.
   */
  async function upload(
    discordUserId: string,
    image: StoredImage,
    record: (user: XUser) => Promise<HistoryEntry | undefined>,
    planned: (user: XUser) => HistoryEntry | undefined = () => undefined,
  ): Promise<AppliedAvatar> {
    return noticeRevocation(discordUserId, async () => {
      const account = await activeAccount(discordUserId);
      const before = await history.get(discordUserId);
      const captured = before.original ? undefined : await captureOriginal(account);
      const previousUrl = captured?.currentUrl ?? before.entries.at(-1)?.url400;
      const user = await x.updateProfileImage(account, image, previousUrl ? { previousUrl } : {});
      // From here on X has changed the avatar: a failure to record it must not be reported as "nothing changed".
      const write = async () => {
        if (captured) {
          let original = captured.original;
          if (captured.image && original.saved) original = { ...original, hash: await history.putImage(discordUserId, captured.image) };
          await history.saveOriginal(discordUserId, original);
        }
        return record(user);
      };
      const originalNote = captured && !captured.original.saved ? { originalNotSaved: captured.original.reason } : {};
      try {
        return { user, image, entry: await write(), ...originalNote };
      } catch (error) {
        logger.warn({ err: error, discordUserId }, 'X changed the avatar but recording it failed; retrying');
        recordLater(discordUserId, write);
        return { user, image, entry: planned(user), ...originalNote, notRecorded: true };
      }
    });
  }

  /** Call under the user's lock. */
  function applyLocked(discordUserId: string, image: StoredImage, source: AvatarSource, label: string): Promise<AppliedAvatar> {
    // The entry's id and time are fixed before the upload, so a retried record adds it once, in its place.
    const fixed = { id: randomUUID().slice(0, 8), appliedAt: new Date().toISOString(), hash: hashImage(image.data), format: image.format, source, label };
    return upload(
      discordUserId,
      image,
      async (user) => {
        await history.putImage(discordUserId, image);
        return history.append(discordUserId, { ...fixed, url400: user.profileImage.size400 });
      },
      (user) => ({ ...fixed, url400: user.profileImage.size400 }),
    );
  }

  function apply(discordUserId: string, image: StoredImage, source: AvatarSource, label: string): Promise<AppliedAvatar> {
    return deps.userLock.run(discordUserId, () => applyLocked(discordUserId, image, source, label));
  }

  /** A preview changes (used, discarded) under its store lock, so two clicks in two processes apply it once. */
  const previewLocked = <T>(previewId: string, work: () => Promise<T>) => deps.store.locked(`previews:${previewId}`, work);

  async function loadPreview(discordUserId: string, previewId: string): Promise<StoredPreview> {
    const preview = await previews.get(previewId);
    if (!preview || preview.discordUserId !== discordUserId) {
      throw new AccountError('preview-expired', 'That preview has expired (previews last 15 minutes). Run /avatar preview again.');
    }
    if (preview.used) throw new AccountError('preview-used', 'That preview has already been applied.');
    if (preview.replaced) {
      throw new AccountError('preview-replaced', `That preview was replaced by newer ones (you can keep ${PREVIEWS_PER_USER} at a time). Run /avatar preview again.`);
    }
    return preview;
  }

  return {
    requireActiveLink: activeAccount,
    apply,

    async createPreview(discordUserId, image, label) {
      await activeAccount(discordUserId); // nothing is stored for a user without a working link
      return deps.userLock.run(discordUserId, async () => {
        const now = Date.now();
        const live = ((await previewIndex.get(discordUserId))?.previews ?? []).filter((entry) => entry.expiresAt > now);
        for (const old of live.splice(0, Math.max(0, live.length - (PREVIEWS_PER_USER - 1)))) {
          const stored = await previews.get(old.id);
          if (stored) await previews.set(old.id, { ...stored, data: '', replaced: true }, old.expiresAt - now);
        }
        const id = randomUUID();
        await previews.set(id, { discordUserId, data: image.data.toString('base64'), format: image.format, label }, PREVIEW_TTL_MS);
        await previewIndex.set(discordUserId, { previews: [...live, { id, expiresAt: now + PREVIEW_TTL_MS }] }, PREVIEW_TTL_MS);
        return { id, discordUserId, image, label };
      });
    },

    applyPreview(discordUserId, previewId) {
      // Under the user's lock, so a second click on Apply waits, finds the preview used and uploads nothing.
      return deps.userLock.run(discordUserId, async () => {
        // Claimed before the upload: whoever marks it used applies it; the claim is undone if nothing changed.
        const preview = await previewLocked(previewId, async () => {
          const loaded = await loadPreview(discordUserId, previewId);
          await previews.set(previewId, { ...loaded, used: true }, PREVIEW_TTL_MS);
          return loaded;
        });
        let applied: AppliedAvatar;
        try {
          applied = await applyLocked(discordUserId, { data: Buffer.from(preview.data, 'base64'), format: preview.format }, 'preview', preview.label);
        } catch (error) {
          await previewLocked(previewId, () => previews.set(previewId, preview, PREVIEW_TTL_MS)).catch((undo: unknown) =>
            logger.warn({ err: undo }, 'could not release a preview after a failed apply'),
          );
          throw error;
        }
        // Only frees space; the preview is marked used already.
        await previews.set(previewId, { ...preview, data: '', used: true }, PREVIEW_TTL_MS).catch(() => undefined);
        return applied;
      });
    },

    discardPreview(discordUserId, previewId) {
      return deps.userLock.run(discordUserId, () =>
        previewLocked(previewId, async () => {
          await loadPreview(discordUserId, previewId);
          await previews.delete(previewId);
        }),
      );
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
        const reverted = entries.at(-1)!.id;
        const applied = await upload(discordUserId, image, async (user) => {
          // By id, on the entries as they are when written (another process may have added one meanwhile).
          const remaining = await history.updateEntries(discordUserId, (current) =>
            current.filter((entry) => entry.id !== reverted).map((entry) => (entry.id === target?.id ? { ...entry, url400: user.profileImage.size400 } : entry)),
          );
          return remaining.find((entry) => entry.id === target?.id);
        });
        return { ...applied, restoredOriginal: !target };
      });
    },

    forget: (discordUserId) => deps.userLock.run(discordUserId, () => history.forget(discordUserId)),

    close() {
      for (const timer of retries) clearTimeout(timer);
      retries.clear();
    },
  };
}
