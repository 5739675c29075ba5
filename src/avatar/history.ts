/**
 * What a user applied to one part of their profile through the bot, newest last, plus what they had
 * before their first change of that part. Images (avatar, banner) are the normalised bytes,
 * content-addressed per user (`<user>:<sha256>`), and only images that the part's history still
 * references are kept: the last 10 plus the original. Names and bios are kept in the entries.
 * Knows nothing about X or Discord.
 */
import { createHash, randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import type { Store } from '../store/backend.js';
import type { ProfilePart } from '../profile/parts.js';
import type { StoredReason } from '../errors.js';

export const HISTORY_LIMIT = 10;

export type ImageFormat = 'jpeg' | 'png';

export interface StoredImage {
  data: Buffer;
  format: ImageFormat;
}

export type AvatarSource = 'upload' | 'preview' | 'history' | 'revert' | 'schedule' | 'branding';

export interface HistoryEntry {
  id: string;
  /** The image's content hash; for a name or bio the hash of its text. */
  hash: string;
  /** Image parts. */
  format?: ImageFormat;
  /** Name and bio: the value applied. */
  text?: string;
  appliedAt: string;
  source: AvatarSource;
  /** What applied it, in words ("attachment photo.jpg", "season winter", …). */
  label: string;
  /** What X showed once the change was processed: the avatar's 400x400 URL, the banner's URL, the text. */
  url400: string;
}

/** `url`: what X showed then (compared with the profile to tell whether a later upload reached X). */
export type OriginalAvatar =
  | { saved: true; hash: string; format?: ImageFormat; text?: string; savedAt: string; url: string }
  /** `none`: the part was empty (no banner, an empty bio): going back to the original empties it. */
  | { saved: true; none: true; hash: ''; savedAt: string; url: '' }
  | { saved: false; reason: StoredReason; savedAt: string };

export interface UserHistory {
  original?: OriginalAvatar;
  entries: HistoryEntry[];
}

interface StoredImageRecord {
  data: string; // base64
  format: ImageFormat;
}

export interface AvatarHistory {
  get(discordUserId: string): Promise<UserHistory>;
  image(discordUserId: string, hash: string): Promise<StoredImage | undefined>;
  /** Store an image for the user; returns its content hash. */
  putImage(discordUserId: string, image: StoredImage): Promise<string>;
  /** Saves the avatar from before the first change, unless one is saved already (by a concurrent first change). */
  saveOriginal(discordUserId: string, original: OriginalAvatar): Promise<void>;
  /** Append an entry for an image already stored with putImage; trims to the last 10 and drops unreferenced images. */
  /** An entry whose id is present already is not added twice (a retried write). */
  append(discordUserId: string, entry: Omit<HistoryEntry, 'id' | 'appliedAt'> & Partial<Pick<HistoryEntry, 'id' | 'appliedAt'>>): Promise<HistoryEntry>;
  /** Change the entries as they are now in the store (revert removes one); drops unreferenced images.
   *  `originalUrl`: the original was applied again, and X shows it at this URL now. */
  updateEntries(discordUserId: string, change: (entries: HistoryEntry[]) => HistoryEntry[], originalUrl?: string): Promise<HistoryEntry[]>;
  forget(discordUserId: string): Promise<void>;
  /** Undo what a change stored before X refused it: its image, unless something uses it, and the original it
   *  saved, unless a change was recorded since. Without an image: an original saved ahead that no change used. */
  discard(discordUserId: string, stored: { imageHash?: string; original?: true }): Promise<void>;
}

export function hashImage(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The avatar keeps the namespaces it had before there were parts. */
export const HISTORY_NAMESPACES: Record<ProfilePart, { history: string; images: string }> = {
  avatar: { history: 'history', images: 'images' },
  banner: { history: 'history-banner', images: 'images-banner' },
  name: { history: 'history-name', images: 'images-name' },
  bio: { history: 'history-bio', images: 'images-bio' },
};

export function hashText(text: string): string {
  return createHash('sha256').update(`text:${text}`).digest('hex');
}

export function createAvatarHistory(store: Store, part: ProfilePart = 'avatar'): AvatarHistory {
  const histories: Keyv<UserHistory> = store.namespace<UserHistory>(HISTORY_NAMESPACES[part].history);
  const images: Keyv<StoredImageRecord> = store.namespace<StoredImageRecord>(HISTORY_NAMESPACES[part].images);
  const imageKey = (discordUserId: string, hash: string) => `${discordUserId}:${hash}`;

  async function get(discordUserId: string): Promise<UserHistory> {
    return (await histories.get(discordUserId)) ?? { entries: [] };
  }

  const referenced = (history: UserHistory) =>
    new Set([...history.entries.map((entry) => entry.hash), ...(history.original?.saved && history.original.hash ? [history.original.hash] : [])]);

  /** Every change of a user's history reads, changes and writes it under the user's store lock. */
  const locked = <T>(discordUserId: string, work: () => Promise<T>) => store.locked(`${HISTORY_NAMESPACES[part].history}:${discordUserId}`, work);

  /** Save the history, then delete the images it no longer references. */
  async function save(discordUserId: string, before: UserHistory, after: UserHistory): Promise<void> {
    await histories.set(discordUserId, after);
    const keep = referenced(after);
    const drop = [...referenced(before)].filter((hash) => !keep.has(hash));
    await Promise.all(drop.map((hash) => images.delete(imageKey(discordUserId, hash))));
  }

  return {
    get,
    async image(discordUserId, hash) {
      const record = await images.get(imageKey(discordUserId, hash));
      return record ? { data: Buffer.from(record.data, 'base64'), format: record.format } : undefined;
    },
    async putImage(discordUserId, image) {
      const hash = hashImage(image.data);
      const key = imageKey(discordUserId, hash);
      // Content-addressed: stored already means stored with these bytes (a rewrite cost a 70 KB write each
      // time a scheduled image came round again).
      if (!(await images.has(key))) await images.set(key, { data: image.data.toString('base64'), format: image.format });
      return hash;
    },
    saveOriginal: (discordUserId, original) =>
      locked(discordUserId, async () => {
        const history = await get(discordUserId);
        if (!history.original) return save(discordUserId, history, { ...history, original });
        // Another first change saved it first: keep that one and drop our copy unless something uses it.
        if (original.saved && original.hash && !referenced(history).has(original.hash)) await images.delete(imageKey(discordUserId, original.hash));
      }),
    append: (discordUserId, fields) =>
      locked(discordUserId, async () => {
        const history = await get(discordUserId);
        const entry: HistoryEntry = { id: randomUUID().slice(0, 8), appliedAt: new Date().toISOString(), ...fields };
        if (history.entries.some((existing) => existing.id === entry.id)) return entry;
        // In the order they were applied: a write retried after a store outage may arrive after a newer one.
        const entries = [...history.entries, entry].sort((a, b) => a.appliedAt.localeCompare(b.appliedAt));
        await save(discordUserId, history, { ...history, entries: entries.slice(-HISTORY_LIMIT) });
        return entry;
      }),
    updateEntries: (discordUserId, change, originalUrl) =>
      locked(discordUserId, async () => {
        const history = await get(discordUserId);
        const entries = change([...history.entries]).slice(-HISTORY_LIMIT);
        // The next change compares X's profile with this URL (did an upload reach X?): the pre-bot URL is gone.
        const original = originalUrl !== undefined && history.original?.saved ? { ...history.original, url: originalUrl } : history.original;
        await save(discordUserId, history, { ...history, ...(original ? { original } : {}), entries });
        return entries;
      }),
    discard: (discordUserId, stored) =>
      locked(discordUserId, async () => {
        const history = await get(discordUserId);
        if (stored.original && history.entries.length === 0 && history.original) {
          const { original: _dropped, ...rest } = history;
          await save(discordUserId, history, rest);
        }
        if (stored.imageHash !== undefined && !referenced(await get(discordUserId)).has(stored.imageHash)) await images.delete(imageKey(discordUserId, stored.imageHash));
      }),
    forget: (discordUserId) =>
      locked(discordUserId, async () => {
        const history = await get(discordUserId);
        await save(discordUserId, history, { entries: [] });
        await histories.delete(discordUserId);
      }),
  };
}
