/**
 * The avatar use cases: apply an image to a user's linked X account, preview one first, re-apply one
 * from history, revert. Before a user's first change the avatar they had is saved so it can be
 * restored. Each change runs through the change journal (changes/pipeline.ts): the original and an
 * intent record are written before anything is sent, so a restart finishes the change instead of
 * uploading twice. A change X refused changes nothing (the original it saved is dropped again). When
 * the history write after X accepted fails (the store is down) the change is still reported as made,
 * with a note, and the write is retried in the background until the store is back.
 */
import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { AccountError } from '../accounts/errors.js';
import type { Limiter } from '../coordination/limiter.js';
import type { ChangeOrigin } from '../changes/journal.js';
import type { AppliedChange, ChangePipeline, PreparedOriginal, RecoveredHandler, StartedChange } from '../changes/pipeline.js';
import type { KeyedLock } from '../coordination/keyed-lock.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/backend.js';
import type { SecretBox } from '../store/cipher.js';
import { isImageValue, type PartValue } from '../changes/parts.js';
import { PROFILE_PARTS, type ImagePart, type ProfilePart } from '../profile/parts.js';
import { hashImage, hashText, type AvatarHistory, type AvatarSource, type HistoryEntry, type OriginalAvatar, type StoredImage, type UserHistory } from './history.js';
import type { LinkedAccount, TokenVault } from '../accounts/vault.js';
import { workingAccount, type LinkStates } from '../accounts/link-state.js';
import type { XUser } from '../x/client.js';
import { XApiError } from '../x/errors.js';
import { reasonParams, type StoredReason } from '../errors.js';
import type { Locale } from '../i18n/locale.js';

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
  originalNotSaved?: StoredReason;
  /** X changed the avatar but the store failed to record it; the record is being retried. */
  notRecorded?: true;
}

/** A command's change: where its reply is (to finish it after a restart), or another origin. */
export interface ChangeOptions {
  replyTarget?: ReplyTarget;
  origin?: ChangeOrigin;
}

/** How a caller with many changes to make runs one (a push, the schedule catch-up). */
export interface BeginOptions {
  /** Saved ahead by prepare(). */
  prepared?: PreparedChange;
  /** The caller's bound on uploads at once, held for the POST to X only. */
  uploadSlot?: Limiter;
  /** What X showed in the part just before (read by the caller: a scheduled change's hand-change check). */
  shownBefore?: string;
}

/** A change prepared ahead of its upload (see AvatarChanges.prepare). */
export interface PreparedChange extends PreparedOriginal {
  /** Drops the original it saved, when begin() is not called with it after all; nothing once begin() took it. */
  discard(): Promise<void>;
}

export interface Preview {
  id: string;
  discordUserId: string;
  image: StoredImage;
  label: string;
  /** What Apply changes: the avatar, or the banner (/banner preview). */
  part: ImagePart;
}

interface StoredPreview {
  discordUserId: string;
  data: string;
  format: StoredImage['format'];
  label: string;
  /** Absent: an avatar (previews stored before there were banners are avatars). */
  part?: 'banner';
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
  /** Resolves with the final URLs; the user's lock is held only until X accepted the upload. */
  apply(discordUserId: string, image: StoredImage, source: AvatarSource, label: string, options?: ChangeOptions): Promise<AppliedAvatar>;
  /** Resolves once X accepted the upload (the caller's worker slot is free then); `final` once it is read and recorded. */
  begin(discordUserId: string, image: StoredImage, source: AvatarSource, label: string, origin: ChangeOrigin, options?: BeginOptions): Promise<StartedChange>;
  /** Before begin(), outside the caller's upload slot: checks the link and saves the user's original when they
   *  have none yet. Give it to begin(), or call its discard() when the change is not made after all. */
  prepare(discordUserId: string, part?: ProfilePart): Promise<PreparedChange>;
  beginRevert(discordUserId: string, origin: ChangeOrigin, part?: ProfilePart): Promise<StartedChange & { restoredOriginal: boolean }>;
  /** begin() for any part: a push or a schedule applying a kit begins one change per part. */
  beginPart(discordUserId: string, part: ProfilePart, value: PartValue, source: AvatarSource, label: string, origin: ChangeOrigin, options?: BeginOptions): Promise<StartedChange>;
  /** A change of the user still in progress in this process (one recovered after a restart, say) from a matching origin. */
  pending(discordUserId: string, matches: (origin: ChangeOrigin) => boolean): StartedChange | undefined;
  /** Resolves once the user's changes of the part (default the avatar) in progress here are recorded in its history. */
  settled(discordUserId: string, part?: ProfilePart): Promise<void>;
  /** At start: finish, in the background, the changes of processes that stopped; returns how many. */
  recover(): Promise<number>;
  /** How a command's change finished after a restart is told: the reply edited while its token lives, else a DM. */
  /** `locale`: the language of the command that started the change (for its reply, or the DM in its place). */
  onRecoveredCommand(
    handler: (discordUserId: string, applied: AppliedChange & { restoredOriginal?: boolean }, source: AvatarSource, replyTarget: ReplyTarget | undefined, locale: Locale | undefined) => Promise<void>,
  ): void;
  /** Who completes a recovered change of each origin (the scheduler records and notifies). */
  onRecovered(kind: ChangeOrigin['kind'], handler: RecoveredHandler): void;
  /** Needs an active link; the user's oldest preview (of any part) is replaced when they hold PREVIEWS_PER_USER already.
   *  `part`: what Apply will change (default the avatar). */
  createPreview(discordUserId: string, image: StoredImage, label: string, part?: ImagePart): Promise<Preview>;
  /** Apply an avatar preview that the same user created; it is used once ('preview-used' afterwards). */
  applyPreview(discordUserId: string, previewId: string, options?: ChangeOptions): Promise<AppliedAvatar>;
  /** Apply a preview of `part` (a banner preview as the banner); a preview of another part is not found ('preview-expired'). */
  applyPartPreview(discordUserId: string, previewId: string, part: ImagePart, options?: ChangeOptions): Promise<AppliedChange>;
  /** Throws 'preview-used' when it was applied (or is being applied) already. */
  discardPreview(discordUserId: string, previewId: string): Promise<void>;
  history(discordUserId: string): Promise<UserHistory>;
  historyImage(discordUserId: string, hash: string): Promise<StoredImage | undefined>;
  reapply(discordUserId: string, entryId: string, options?: ChangeOptions): Promise<AppliedAvatar>;
  /** Back to the avatar before the current one; the saved original when the current one is the first change. */
  revert(discordUserId: string, options?: ChangeOptions): Promise<AppliedAvatar & { restoredOriginal: boolean }>;
  /** Applies one part (avatar, banner, name, bio); resolves once X shows it and it is recorded. */
  applyPart(discordUserId: string, part: ProfilePart, value: PartValue, source: AvatarSource, label: string, options?: ChangeOptions): Promise<AppliedChange>;
  /** Applies several parts, one recorded change each, in the order avatar, banner, name, bio; a part X refuses
   *  leaves that part as it was and the others are still made. */
  applyParts(discordUserId: string, values: PartValues, source: AvatarSource, label: string, options?: ChangeOptions): Promise<PartResults>;
  /** One part back to what it was before its current value: the previous entry, else the saved original. */
  revertPart(discordUserId: string, part: ProfilePart, options?: ChangeOptions): Promise<AppliedChange & { restoredOriginal: boolean }>;
  partHistory(discordUserId: string, part: ProfilePart): Promise<UserHistory>;
  forget(discordUserId: string): Promise<void>;
  /** Stops the pending reads and record retries (when the bot stops); the journal finishes them at the next start. */
  close(): void;
}

export type PartValues = Partial<Record<ProfilePart, PartValue>>;
/** Each part asked for: what X shows now, or why it was not changed. */
export type PartResults = Partial<Record<ProfilePart, { applied: AppliedChange } | { error: unknown }>>;

export interface AvatarChangesDeps {
  store: Store;
  vault: TokenVault;
  /** Whether the user's link works: decided in accounts/link-state.ts, as for every other edge. */
  linkState: LinkStates;
  /** Each part's history. */
  histories: Record<ProfilePart, AvatarHistory>;
  /** Runs each change as a recorded state machine (changes/pipeline.ts). */
  pipeline: ChangePipeline;
  /** Seals a command's interaction token in its change record (to finish the reply after a restart). */
  box: SecretBox;
  userLock: KeyedLock;
  logger: Logger;
}

/** Where a command's reply is, so a change completed after a restart can still edit it (tokens last 15 minutes). */
export interface ReplyTarget {
  applicationId: string;
  interactionToken: string;
  /** The language of that interaction: the message it gets later is in it too. */
  locale?: Locale;
}

/** The avatar use cases start avatar changes only: what they complete carries the image. */
export function avatarOf(applied: AppliedChange): AppliedAvatar {
  const { part: _part, value: _value, image, ...rest } = applied;
  if (!image) throw new TypeError(`a ${applied.part} change is not an avatar change`);
  return { ...rest, image };
}

export const REPLY_TOKEN_TTL_MS = 15 * 60_000;
const replyContext = (discordUserId: string) => `changes:reply:${discordUserId}`;

export function sealReplyTarget(box: SecretBox, discordUserId: string, target: ReplyTarget): string {
  return box.seal(JSON.stringify({ ...target, expiresAt: Date.now() + REPLY_TOKEN_TTL_MS }), replyContext(discordUserId));
}

export function openReplyTarget(box: SecretBox, discordUserId: string, sealed: string): (ReplyTarget & { expiresAt: number }) | undefined {
  try {
    return JSON.parse(box.open(sealed, replyContext(discordUserId))) as ReplyTarget & { expiresAt: number };
  } catch {
    return undefined;
  }
}

export function createAvatarChanges(deps: AvatarChangesDeps): AvatarChanges {
  const { vault, histories, pipeline, logger } = deps;
  const history = histories.avatar;
  const previews: Keyv<StoredPreview> = deps.store.namespace<StoredPreview>('previews');
  const previewIndex: Keyv<PreviewIndex> = deps.store.namespace<PreviewIndex>('preview-index');

  const activeAccount = async (discordUserId: string): Promise<LinkedAccount> => workingAccount(await deps.linkState(discordUserId));

  /** A broken link is marked so that commands and schedules stop using it until the user relinks. */
  async function noticeRevocation<T>(discordUserId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof XApiError && error.kind === 'token-revoked') await vault.setStatus(discordUserId, 'revoked');
      throw error;
    }
  }

  const commandOrigin = (discordUserId: string, options: ChangeOptions = {}): ChangeOrigin =>
    options.origin ?? { kind: 'command', ...(options.replyTarget ? { replyTarget: sealReplyTarget(deps.box, discordUserId, options.replyTarget) } : {}) };

  /** Call under the user's lock. Resolves once X accepted the upload. */
  function beginLocked(discordUserId: string, image: StoredImage, source: AvatarSource, label: string, origin: ChangeOrigin, options: BeginOptions = {}): Promise<StartedChange> {
    return beginPartLocked(discordUserId, 'avatar', image, source, label, origin, options);
  }

  function beginPartLocked(discordUserId: string, part: ProfilePart, value: PartValue, source: AvatarSource, label: string, origin: ChangeOrigin, options: BeginOptions = {}): Promise<StartedChange> {
    return noticeRevocation(discordUserId, async () => {
      const account = await activeAccount(discordUserId);
      // The entry's id and time are fixed before the upload, so a retried or recovered record adds it once, in its place.
      const kept = isImageValue(value) ? { hash: hashImage(value.data), format: value.format } : { hash: hashText(value.text), text: value.text };
      const entry = { id: randomUUID().slice(0, 8), appliedAt: new Date().toISOString(), ...kept, source, label };
      const { prepared, uploadSlot, shownBefore } = options;
      return pipeline.start({
        userId: discordUserId,
        account,
        part,
        value,
        source,
        label,
        origin,
        planned: { op: 'append', entry },
        ...(prepared ? { prepared } : {}),
        ...(uploadSlot ? { uploadSlot } : {}),
        ...(shownBefore !== undefined ? { shownBefore } : {}),
      });
    });
  }

  /** The value a history entry or a saved original holds: an image from the part's images, a text, or nothing. */
  async function valueOf(discordUserId: string, part: ProfilePart, kept: HistoryEntry | Extract<OriginalAvatar, { saved: true }>): Promise<PartValue | 'none'> {
    if ('none' in kept) return 'none';
    if (kept.text !== undefined) return { text: kept.text };
    const image = await histories[part].image(discordUserId, kept.hash);
    if (!image) throw new AccountError('history-entry-gone');
    return image;
  }

  /** Call under the user's lock: the revert's target is read from the history as it is once earlier changes completed. */
  async function beginRevertLocked(discordUserId: string, origin: ChangeOrigin, part: ProfilePart = 'avatar'): Promise<StartedChange & { restoredOriginal: boolean }> {
    await pipeline.settled(discordUserId, part);
    const { original, entries } = await histories[part].get(discordUserId);
    if (entries.length === 0) {
      throw new AccountError('nothing-to-revert');
    }
    const target = entries.at(-2);
    if (!target && !original?.saved) {
      throw original?.saved === false
        ? new AccountError('nothing-to-revert', reasonParams(original.reason), { variant: 'original-not-saved' })
        : new AccountError('nothing-to-revert', {}, { variant: 'original-missing' });
    }
    const value = await valueOf(discordUserId, part, target ?? (original as Extract<OriginalAvatar, { saved: true }>));
    const started = await noticeRevocation(discordUserId, async () => {
      const account = await activeAccount(discordUserId);
      // By id, on the entries as they are when written (another process may have added one meanwhile).
      const planned = { op: 'revert' as const, removeId: entries.at(-1)!.id, ...(target ? { restoreId: target.id } : {}) };
      return pipeline.start({ userId: discordUserId, account, part, value, source: 'revert', label: target?.label ?? 'original', origin, planned });
    });
    return { ...started, restoredOriginal: !target };
  }

  const locked = <T>(discordUserId: string, work: () => Promise<T>) => deps.userLock.run(discordUserId, work);

  /** Begins a change of any part for a caller with many (a push, the schedule catch-up). */
  async function beginPart(discordUserId: string, part: ProfilePart, value: PartValue, source: AvatarSource, label: string, origin: ChangeOrigin, options: BeginOptions = {}): Promise<StartedChange> {
    const { prepared } = options;
    try {
      return await locked(discordUserId, () => beginPartLocked(discordUserId, part, value, source, label, origin, options));
    } catch (error) {
      // Failed before the change took it (the link was revoked meanwhile, the store failed): drop what it saved.
      await prepared?.discard().catch((undo: unknown) => logger.warn({ err: undo, userId: discordUserId }, 'could not drop an original saved ahead'));
      throw error;
    }
  }

  function apply(discordUserId: string, image: StoredImage, source: AvatarSource, label: string, options?: ChangeOptions): Promise<AppliedAvatar> {
    return locked(discordUserId, () => beginLocked(discordUserId, image, source, label, commandOrigin(discordUserId, options))).then((started) => started.final.then(avatarOf));
  }

  /** A preview changes (used, discarded) under its store lock, so two clicks in two processes apply it once. */
  const previewLocked = <T>(previewId: string, work: () => Promise<T>) => deps.store.locked(`previews:${previewId}`, work);

  /** `part`: the part the caller applies; a preview of another part is not one the caller may apply (a forged button). */
  async function loadPreview(discordUserId: string, previewId: string, part?: ImagePart): Promise<StoredPreview> {
    const preview = await previews.get(previewId);
    if (!preview || preview.discordUserId !== discordUserId || (part !== undefined && (preview.part ?? 'avatar') !== part)) {
      throw new AccountError('preview-expired', { minutes: PREVIEW_TTL_MS / 60_000 });
    }
    if (preview.used) throw new AccountError('preview-used');
    if (preview.replaced) {
      throw new AccountError('preview-replaced', { max: PREVIEWS_PER_USER });
    }
    return preview;
  }

  /** Resolves once X accepted the preview's upload, as the part it was made for. */
  function applyStoredPreview(discordUserId: string, previewId: string, part: ImagePart, options?: ChangeOptions): Promise<StartedChange> {
    // Under the user's lock, so a second click on Apply waits, finds the preview used and uploads nothing.
    return deps.userLock.run(discordUserId, async () => {
      // Claimed before the upload: whoever marks it used applies it; the claim is undone if nothing changed.
      const preview = await previewLocked(previewId, async () => {
        const loaded = await loadPreview(discordUserId, previewId, part);
        await previews.set(previewId, { ...loaded, used: true }, PREVIEW_TTL_MS);
        return loaded;
      });
      let started: StartedChange;
      try {
        started = await beginPartLocked(discordUserId, part, { data: Buffer.from(preview.data, 'base64'), format: preview.format }, 'preview', preview.label, commandOrigin(discordUserId, options));
      } catch (error) {
        await previewLocked(previewId, () => previews.set(previewId, preview, PREVIEW_TTL_MS)).catch((undo: unknown) =>
          logger.warn({ err: undo }, 'could not release a preview after a failed apply'),
        );
        throw error;
      }
      // Only frees space; the preview is marked used already.
      await previews.set(previewId, { ...preview, data: '', used: true }, PREVIEW_TTL_MS).catch(() => undefined);
      return started;
    });
  }

  return {
    requireActiveLink: activeAccount,
    apply,

    async createPreview(discordUserId, image, label, part = 'avatar') {
      await activeAccount(discordUserId); // nothing is stored for a user without a working link
      return deps.userLock.run(discordUserId, async () => {
        const now = Date.now();
        const live = ((await previewIndex.get(discordUserId))?.previews ?? []).filter((entry) => entry.expiresAt > now);
        for (const old of live.splice(0, Math.max(0, live.length - (PREVIEWS_PER_USER - 1)))) {
          const stored = await previews.get(old.id);
          if (stored) await previews.set(old.id, { ...stored, data: '', replaced: true }, old.expiresAt - now);
        }
        const id = randomUUID();
        await previews.set(id, { discordUserId, data: image.data.toString('base64'), format: image.format, label, ...(part === 'banner' ? { part } : {}) }, PREVIEW_TTL_MS);
        await previewIndex.set(discordUserId, { previews: [...live, { id, expiresAt: now + PREVIEW_TTL_MS }] }, PREVIEW_TTL_MS);
        return { id, discordUserId, image, label, part };
      });
    },

    applyPreview: (discordUserId, previewId, options) => applyStoredPreview(discordUserId, previewId, 'avatar', options).then((started) => started.final.then(avatarOf)),
    applyPartPreview: (discordUserId, previewId, part, options) => applyStoredPreview(discordUserId, previewId, part, options).then((started) => started.final),

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

    reapply(discordUserId, entryId, options) {
      // Read under the user's lock, once earlier changes completed: a second choice of the same entry (a double
      // pick, or the old menu right after) finds it is the current avatar already and uploads nothing.
      return locked(discordUserId, async () => {
        await pipeline.settled(discordUserId, 'avatar');
        const { entries } = await history.get(discordUserId);
        const entry = entries.find((candidate) => candidate.id === entryId);
        const image = entry && (await history.image(discordUserId, entry.hash));
        if (!entry || !image) throw new AccountError('history-entry-gone', {}, { variant: 'picked' });
        if (entries.at(-1)?.hash === entry.hash) {
          throw new AccountError('already-current');
        }
        return beginLocked(discordUserId, image, 'history', entry.label, commandOrigin(discordUserId, options));
      }).then((started) => started.final.then(avatarOf));
    },

    async revert(discordUserId, options) {
      const started = await locked(discordUserId, () => beginRevertLocked(discordUserId, commandOrigin(discordUserId, options)));
      return { ...avatarOf(await started.final), restoredOriginal: started.restoredOriginal };
    },

    begin: (discordUserId, image, source, label, origin, options) => beginPart(discordUserId, 'avatar', image, source, label, origin, options),
    beginPart: (discordUserId, part, value, source, label, origin, options) => beginPart(discordUserId, part, value, source, label, origin, options),
    async prepare(discordUserId, part = 'avatar') {
      const prepared = await locked(discordUserId, () =>
        noticeRevocation(discordUserId, async () => pipeline.prepareOriginal(discordUserId, await activeAccount(discordUserId), part)),
      );
      return Object.assign(prepared, { discard: () => locked(discordUserId, () => pipeline.discardPrepared(prepared)) });
    },
    beginRevert: (discordUserId, origin, part = 'avatar') => locked(discordUserId, () => beginRevertLocked(discordUserId, origin, part)),
    pending: (discordUserId, matches) => pipeline.pending(discordUserId, matches),
    settled: (discordUserId, part = 'avatar') => pipeline.settled(discordUserId, part),
    recover: () => pipeline.recover(),
    onRecovered: (kind, handler) => pipeline.onRecovered(kind, handler),
    onRecoveredCommand(handler) {
      pipeline.onRecovered('command', (change, applied) => {
        const sealed = change.origin.kind === 'command' ? change.origin.replyTarget : undefined;
        const target = sealed ? openReplyTarget(deps.box, change.userId, sealed) : undefined;
        // A token older than 15 minutes is refused by Discord: the handler sends a DM instead.
        const live = target && target.expiresAt > Date.now() + 5_000 ? { applicationId: target.applicationId, interactionToken: target.interactionToken } : undefined;
        return handler(change.userId, { ...applied, ...(change.planned.op === 'revert' ? { restoredOriginal: !change.planned.restoreId } : {}) }, change.source, live, target?.locale);
      });
    },

    applyPart(discordUserId, part, value, source, label, options) {
      return locked(discordUserId, () => beginPartLocked(discordUserId, part, value, source, label, commandOrigin(discordUserId, options))).then((started) => started.final);
    },

    async applyParts(discordUserId, values, source, label, options) {
      const asked = PROFILE_PARTS.filter((part) => values[part] !== undefined);
      // Begun one after another under one hold of the lock (each is its own record); X's processing waits overlap.
      const begun = await locked(discordUserId, async () => {
        const finals: Array<[ProfilePart, Promise<AppliedChange>]> = [];
        for (const part of asked) {
          const started = beginPartLocked(discordUserId, part, values[part]!, source, label, commandOrigin(discordUserId, options));
          await started.then(() => undefined, () => undefined); // X accepted it (or refused it): the next part
          const final = started.then((change) => change.final);
          final.catch(() => undefined); // read below, after every part is begun
          finals.push([part, final]);
        }
        return finals;
      });
      const results: PartResults = {};
      for (const [part, final] of begun) results[part] = await final.then((applied) => ({ applied }), (error: unknown) => ({ error }));
      return results;
    },

    async revertPart(discordUserId, part, options) {
      const started = await locked(discordUserId, () => beginRevertLocked(discordUserId, commandOrigin(discordUserId, options), part));
      return { ...(await started.final), restoredOriginal: started.restoredOriginal };
    },

    partHistory: (discordUserId, part) => histories[part].get(discordUserId),

    forget: (discordUserId) => deps.userLock.run(discordUserId, () => Promise.all(PROFILE_PARTS.map((part) => histories[part].forget(discordUserId))).then(() => undefined)),

    close: () => pipeline.close(),
  };
}
