/**
 * Which of X's two APIs sets the avatar, name and bio (X_PROFILE_API): v1.1 (`update_profile_image`,
 * `update_profile`), v2 (`POST /2/media/upload` + `PUT /2/users/me/profile_image`, `PUT /2/users/me`), or
 * auto. In auto the app uses v1.1 until X answers a profile call in a way that means the endpoint is gone
 * for this app (404 or 410, or 403 code 453), then v2 for the whole app: the switch is recorded in the
 * store so that every process follows it (each reads it again at most every REREAD_MS), and v1.1 is tried
 * again once a day (REPROBE_MS).
 *
 * The probe is the next real write, sent to v1.1 first: v1.1 has no call that says whether a write endpoint
 * is open to the app (verify_credentials can answer while update_profile_image answers 453), and a write it
 * refuses as gone has applied nothing, so sending it on to v2 costs one request a day and changes nothing
 * twice. A probe that works switches the app back to v1.1; one that is refused keeps v2 for another day.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { XApiError } from './errors.js';

export type ProfileApi = 'v1.1' | 'v2';
export type ProfileApiSetting = ProfileApi | 'auto';

/** What the store keeps (namespace `x-api`, key `profile:<app>`): the API in force, since when (ms), and why. */
export interface ProfileApiChoice {
  api: ProfileApi;
  since: number;
  reason: string;
}

/** Where the choice is shared between processes; a store that fails leaves each process with what it knew. */
export interface ProfileApiRecord {
  get(): Promise<ProfileApiChoice | undefined>;
  set(choice: ProfileApiChoice): Promise<void>;
}

/** Another process's switch is followed within this time (or at once when this process meets the same answer). */
export const REREAD_MS = 30_000;
/** v1.1 is tried again this long after the switch to v2 (and after each refused probe). */
export const REPROBE_MS = 24 * 60 * 60_000;

export const PROFILE_API_NAMESPACE = 'x-api';

/**
 * A keyv namespace as the record (the store's `namespace(PROFILE_API_NAMESPACE)`), one per X app: X decides
 * per app (consumer key), which the key names by a digest (the consumer key itself is not stored).
 */
export function keyvRecord(keyv: { get(key: string): Promise<unknown>; set(key: string, value: ProfileApiChoice): Promise<unknown> }, consumerKey: string): ProfileApiRecord {
  const KEY = `profile:${createHash('sha256').update(consumerKey).digest('hex').slice(0, 16)}`;
  return {
    async get() {
      const value = (await keyv.get(KEY)) as Partial<ProfileApiChoice> | undefined;
      // Anything else (a damaged or foreign value) counts as no switch: v1.1, as before the first one.
      if (value && (value.api === 'v1.1' || value.api === 'v2') && typeof value.since === 'number') return { api: value.api, since: value.since, reason: String(value.reason ?? '') };
      return undefined;
    },
    set: async (choice) => void (await keyv.set(KEY, choice)),
  };
}

/** One process's memory of the choice: the CLI, and tests of the client alone. */
export function memoryRecord(): ProfileApiRecord {
  let choice: ProfileApiChoice | undefined;
  return { get: async () => choice, set: async (value) => void (choice = value) };
}

/** Whether X's answer on a v1.1 profile endpoint means the endpoint is gone for this app. */
export function v1Gone(error: unknown): error is XApiError {
  return error instanceof XApiError && (error.status === 404 || error.status === 410 || (error.status === 403 && error.code === 453));
}

export interface ProfileApiMode {
  readonly setting: ProfileApiSetting;
  /** The API reads go to (a probe day reads from v2 until the probe worked). */
  forRead(): Promise<ProfileApi>;
  /** The API a write goes to; `probe` when it tries v1.1 again after a day on v2 (then call `settled`). */
  forWrite(): Promise<{ api: ProfileApi; probe: boolean }>;
  /** v1.1 answered `error` (v1Gone): the app goes to v2 (recorded, logged once). Only in auto. */
  gone(error: XApiError): Promise<void>;
  /** A probe is over: `worked` switches the app back to v1.1. */
  settled(worked: boolean): Promise<void>;
}

export function createProfileApiMode(options: { setting: ProfileApiSetting; record: ProfileApiRecord; logger?: Logger; now?: () => number }): ProfileApiMode {
  const { setting, record, logger } = options;
  const now = options.now ?? Date.now;
  let known: ProfileApiChoice | undefined;
  let readAt = -Infinity;
  let probing = false;

  async function current(): Promise<ProfileApiChoice | undefined> {
    if (now() - readAt < REREAD_MS) return known;
    readAt = now();
    try {
      const stored = await record.get();
      if (stored && stored.api !== (known?.api ?? 'v1.1')) logger?.info({ api: stored.api, since: new Date(stored.since).toISOString(), reason: stored.reason }, 'following the recorded switch of X profile API');
      known = stored;
    } catch (error) {
      logger?.warn({ err: error }, 'could not read which X profile API is in force; keeping the last one known');
    }
    return known;
  }

  async function save(choice: ProfileApiChoice): Promise<void> {
    known = choice;
    readAt = now();
    try {
      await record.set(choice);
    } catch (error) {
      logger?.warn({ err: error }, 'could not record the X profile API in the store; this process follows it alone');
    }
  }

  return {
    setting,
    async forRead() {
      if (setting !== 'auto') return setting;
      return (await current())?.api ?? 'v1.1';
    },
    async forWrite() {
      if (setting !== 'auto') return { api: setting, probe: false };
      const choice = await current();
      if (choice?.api !== 'v2') return { api: 'v1.1', probe: false };
      if (probing || now() - choice.since < REPROBE_MS) return { api: 'v2', probe: false };
      probing = true; // one probe at a time in this process: the writes meanwhile go to v2
      return { api: 'v1.1', probe: true };
    },
    async gone(error) {
      if (setting !== 'auto') return;
      const reason = `HTTP ${error.status}${error.code === undefined ? '' : ` code ${error.code}`}`;
      const wasV2 = known?.api === 'v2';
      await save({ api: 'v2', since: now(), reason });
      if (wasV2) logger?.info({ reason }, 'X v1.1 profile endpoints still refused; staying on v2 for another day');
      else logger?.warn({ reason }, 'X answered that v1.1 profile endpoints are gone for this app: switching every process to v2');
    },
    async settled(worked) {
      probing = false;
      if (!worked || known?.api !== 'v2') return;
      await save({ api: 'v1.1', since: now(), reason: 'probe' });
      logger?.warn('X v1.1 profile endpoints answer again: switching every process back to v1.1');
    },
  };
}
