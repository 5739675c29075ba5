/**
 * Each user's schedules and scheduling settings, one record per Discord user. Knows nothing about X.
 */
import type Keyv from 'keyv';
import { MAX_ROTATION_IMAGES, MAX_SCHEDULES, type UserSchedules } from './engine.js';
import type { ScheduleFailure } from './failures.js';
import type { Store } from '../store/backend.js';
import type { ProfilePart } from '../profile/parts.js';

/** Schedules (seasons, rotations, events) one user can keep. */
export const SCHEDULES_PER_USER = MAX_SCHEDULES;
/** Images one rotation can cycle through (each name is looked up in the library when it is created). */
export const IMAGES_PER_ROTATION = MAX_ROTATION_IMAGES;

export type NotifySetting = { mode: 'dm' } | { mode: 'channel'; channelId: string } | { mode: 'off' };

export interface RunOutcome {
  at: string;
  outcome: 'applied' | 'failed' | 'unchanged';
  /** The image name, or why it failed (data; an English sentence in records written before it was data). */
  detail: string | ScheduleFailure;
}

/** What the schedules' kits changed in one part, restored when the schedules move on to a target that does
 *  not set that part (an image sets the avatar only; a kit only the parts it has). */
export interface HeldPart {
  /** The history entries the kits added to the part, oldest first: undone newest first while on top. */
  entries: string[];
  /** Name and bio: the text X showed before the first kit changed it (empty: no bio). */
  text?: string;
}
export type HeldParts = Partial<Record<ProfilePart, HeldPart>>;

export interface ScheduleRecord extends UserSchedules {
  notify: NotifySetting;
  /** Set when every schedule of the user stopped, e.g. because the X link was revoked. */
  suspended?: { reason: string; at: string };
  /** What the scheduler last applied, so it never uploads the image that is already there. */
  applied?: { image: string; at: string; /** Parts a kit changed, kept until restored. */ parts?: HeldParts };
  /** A change of several parts (a kit, or parts restored) in progress, written part by part: a retry, a
   *  restart or another process continues it. `parts`: what is held with the parts in `done` made;
   *  `attempt` counts recoveries (each is a new transition for the run lease). */
  changing?: { target: string; done: ProfilePart[]; parts: HeldParts; attempt?: number };
  lastRun?: RunOutcome;
  /** A change that failed for a passing reason (rate limit, X down) is not tried again before `at`;
   *  `rateLimits` counts the 429s in a row, for the backoff; `appBlocked` the waits for X's breaker (issue 12),
   *  each a new transition for the run lease (no failure of the user's: `lastRun` is left as it was). */
  retry?: { at: string; rateLimits: number; appBlocked?: number };
  /** A failure the user has not been told about yet (shown at their next command when DMs fail). */
  pendingNotice?: ScheduleFailure | string;
  // issue 12: hand changes (see ./hand-changes.ts)
  /** `/schedule overwrite on`: scheduled changes replace an avatar changed by hand on X without asking. */
  overwriteHandChanges?: true;
  /** The avatar URL X showed when the user resumed a schedule paused by a hand change: that one may be replaced.
   *  Dropped once the scheduler applies a change (its own avatar is what is compared then). */
  acceptedAvatar?: string;
}

export const emptyRecord = (): ScheduleRecord => ({ schedules: [], notify: { mode: 'dm' } });

export interface ScheduleStore {
  get(discordUserId: string): Promise<ScheduleRecord>;
  /** Read, change and write one user's record, under the user's store lock (no concurrent change is lost). */
  update(discordUserId: string, change: (record: ScheduleRecord) => ScheduleRecord | void): Promise<ScheduleRecord>;
  delete(discordUserId: string): Promise<void>;
  /** Every user's record, a page at a time, each read once (see Store.pages); undefined when it is damaged. */
  pages(): AsyncGenerator<Array<[discordUserId: string, record: ScheduleRecord | undefined]>>;
}

export function createScheduleStore(store: Store): ScheduleStore {
  const records: Keyv<ScheduleRecord> = store.namespace<ScheduleRecord>('schedules');
  const get = async (discordUserId: string) => (await records.get(discordUserId)) ?? emptyRecord();
  return {
    get,
    update(discordUserId, change) {
      return store.locked(`schedules:${discordUserId}`, async () => {
        const record = structuredClone(await get(discordUserId));
        const next = change(record) ?? record;
        await records.set(discordUserId, next);
        return next;
      });
    },
    async delete(discordUserId) {
      await records.delete(discordUserId);
    },
    pages: () => store.pages<ScheduleRecord>('schedules'),
  };
}
