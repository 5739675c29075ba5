/**
 * The change journal: one record per avatar change in progress, written before anything is sent to X and
 * deleted once the change is complete (history written, its origin told). A restart finds every record
 * left and finishes it from its state instead of starting over, so nothing X accepted is uploaded again.
 *
 *   intent   → the change is decided; the original (first change) is being saved, unless it was saved ahead
 *              (pipeline.prepareOriginal); nothing sent yet
 *   sending  → the upload may have reached X: compare the profile with `previousUrl` before sending again
 *   accepted → X accepted the upload; the final URL is read at `readAt`
 *
 * Each record names the process that owns it; a process holds a lease on its own name while it runs, so
 * another process (or this one after a restart) takes over only the records of a process that is gone.
 * Knows nothing about X or Discord.
 */
import type { Rule } from '../schedule/engine.js';
import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import type { Store } from '../store/backend.js';
import type { AvatarSource, HistoryEntry, ImageFormat } from '../avatar/history.js';
import type { ProfilePart } from '../profile/parts.js';
import type { StoredReason } from '../errors.js';

export type ChangeState = 'intent' | 'sending' | 'accepted';

/** Who asked for the change, and so who is told when it completes. */
export type ChangeOrigin =
  | { kind: 'command'; /** Sealed { applicationId, interactionToken, expiresAt }: where the reply goes. */ replyTarget?: string }
  | { kind: 'push'; jobId: string; phase: 'push' | 'revert' }
  | { kind: 'schedule'; target: string; image: string; label: string; rule?: Rule };

/** The history write, fixed before the upload so that a retried or recovered write adds it once, in place. */
export type PlannedRecord =
  | { op: 'append'; entry: Omit<HistoryEntry, 'url400'> }
  /** Revert: drop the entry reverted, and give the one restored (none: the original) its new URL. */
  | { op: 'revert'; removeId: string; restoreId?: string };

export interface ChangeRecord {
  id: string;
  userId: string;
  /** The part of the profile it changes; records from before there were parts change the avatar. */
  part?: ProfilePart;
  /** The image, stored in the part's history images before the intent was written; for a name or bio the
   *  hash of `text`. */
  imageHash: string;
  /** Image parts. */
  format?: ImageFormat;
  /** Name and bio: the value sent. */
  text?: string;
  /** The part is emptied (a banner removed, a bio cleared): going back to an original that was empty. */
  clear?: true;
  source: AvatarSource;
  label: string;
  origin: ChangeOrigin;
  planned: PlannedRecord;
  state: ChangeState;
  owner: string;
  createdAt: string;
  /** The profile's URL before the upload: the read waits until X shows another one. */
  previousUrl?: string;
  /** When the upload was (last) sent. */
  sentAt?: number;
  acceptedAt?: string;
  /** When the final URL is read next (ms since the epoch). */
  readAt?: number;
  reads: number;
  /** Set when this change saved the user's original (to undo it if X refuses the upload). */
  savedOriginal?: boolean;
  /** The original could not be saved, in words (shown with the result). */
  originalNotSaved?: StoredReason;
}

export interface ChangeJournal {
  readonly owner: string;
  create(record: Omit<ChangeRecord, 'id' | 'owner' | 'createdAt' | 'reads' | 'state'>): Promise<ChangeRecord>;
  update(record: ChangeRecord, patch: Partial<ChangeRecord>): Promise<ChangeRecord>;
  delete(record: ChangeRecord): Promise<void>;
  get(id: string): Promise<ChangeRecord | undefined>;
  /** Every record in the store (every process's). */
  all(): AsyncGenerator<ChangeRecord>;
}

export function createChangeJournal(store: Store, owner = randomUUID()): ChangeJournal {
  const records: Keyv<ChangeRecord> = store.namespace<ChangeRecord>('changes');

  return {
    owner,
    async create(fields) {
      const record: ChangeRecord = { ...fields, id: randomUUID(), owner, createdAt: new Date().toISOString(), reads: 0, state: 'intent' };
      await records.set(record.id, record);
      return record;
    },
    async update(record, patch) {
      // One writer per record (its owner; a takeover happens only once the owner is gone): a plain write.
      const next = { ...record, ...patch };
      await records.set(record.id, next);
      return next;
    },
    async delete(record) {
      await records.delete(record.id);
    },
    get: (id) => records.get(id),
    async *all() {
      // Page by page, each within the store's deadline: keyv's own iterator scans a Redis key space until it
      // finds a record, so on a store of 100,000 users one step of it outlasted the deadline at every start.
      for await (const page of store.pages<ChangeRecord>('changes')) {
        for (const [, record] of page) if (record) yield record;
      }
    },
  };
}
