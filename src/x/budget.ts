/**
 * Spending X's write quota on purpose (issue 12, item 3). Two things hold a write back before it is sent:
 *
 * - X's own per-user limits: every answer's `x-rate-limit-limit/remaining/reset` is recorded per user (a hash
 *   of the access token) and per endpoint in a cache here, and in the store (every process sees it) when it
 *   holds the user, until the reset. A user
 *   whose endpoint shows `remaining: 0` with a reset still ahead is held until the reset instead of being sent
 *   into a 429: XApiError `rate-limited`, variant `held`, `resetAt` X's reset.
 * - X_DAILY_WRITE_BUDGET: profile writes per rolling 24 h for the whole app, counted in the store under
 *   `store.locked` (atomic on SQLite, Redis and PostgreSQL alike) in 15-minute buckets. A write over its
 *   priority's share is refused: `rate-limited`, variant `budget`, `resetAt` when the window frees a slot for it.
 *
 * Priority (the change's origin, see write-context.ts) by fixed reserves of the budget B:
 * commands may use all of B; schedules B − ⌈B/10⌉ (a tenth is kept for people running a command, who wait
 * for the answer); pushes B − ⌈B/10⌉ − ⌈B/5⌉ (another fifth is kept for schedules, which promise users a
 * time, while a push is bulk work an admin watches finish). Each share is at least 1 so nothing waits for ever.
 *
 * Only the writes are held (the six calls in WRITE_ENDPOINTS); reads and the OAuth calls never are. Nothing a
 * write refused here sent reaches X, so callers (schedules, pushes) wait for `resetAt` without backing off.
 */
import type Keyv from 'keyv';
import type { Logger } from '../log.js';
import type { Store } from '../store/backend.js';
import type { XClient, XRequestObservation } from './client.js';
import { XApiError, rateLimitedParams } from './errors.js';
import { xUserKey } from './user-key.js';
import { currentWritePriority, type WritePriority } from './write-context.js';

/** The writes, and the endpoints (method and path, as the client sends them) whose limit each one spends. */
export const WRITE_ENDPOINTS = {
  uploadProfileImage: ['POST /1.1/account/update_profile_image.json', 'POST /2/media/upload', 'PUT /2/users/me/profile_image'],
  updateProfileImage: ['POST /1.1/account/update_profile_image.json', 'POST /2/media/upload', 'PUT /2/users/me/profile_image'],
  uploadProfileBanner: ['POST /1.1/account/update_profile_banner.json'],
  updateProfileBanner: ['POST /1.1/account/update_profile_banner.json'],
  updateProfile: ['POST /1.1/account/update_profile.json', 'PUT /2/users/me'],
  removeProfileBanner: ['POST /1.1/account/remove_profile_banner.json'],
} as const satisfies Partial<Record<keyof XClient, readonly string[]>>;
type WriteMethod = keyof typeof WRITE_ENDPOINTS;

/** X's limit on one endpoint for one user, as its last answer there said. */
export interface RateLimitRecord {
  limit?: number;
  remaining: number;
  /** ms since the epoch. */
  resetAt: number;
}

/** Records kept here at once (about 100 bytes each): older ones are dropped, the store still has them. */
const CACHE_MAX = 10_000;
/** A record stays in the store at least this long, so that a reset already past is not written with no ttl. */
const MIN_RECORD_TTL_MS = 60_000;

export interface RateLimitBook {
  /** Give it every X request (XClientOptions.observe). */
  observe(request: XRequestObservation): void;
  /** When the user may write to one of `endpoints` again, if one of them shows no calls left; else undefined. */
  heldUntil(userKey: string, endpoints: readonly string[]): Promise<number | undefined>;
}

export function createRateLimitBook(store: Store, deps: { now: () => number; logger?: Logger }): RateLimitBook {
  const records: Keyv<RateLimitRecord> = store.namespace<RateLimitRecord>('x-rate-limits');
  const cache = new Map<string, RateLimitRecord>();
  const keyOf = (userKey: string, endpoint: string) => `${userKey} ${endpoint}`;
  const remember = (key: string, record: RateLimitRecord) => {
    cache.delete(key); // to the end: the oldest goes first
    cache.set(key, record);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  };
  const holds = (record: RateLimitRecord | undefined, now: number) => record !== undefined && record.remaining <= 0 && record.resetAt > now;

  return {
    observe({ userKey, endpoint, method, rateLimitRemaining: remaining, rateLimitLimit: limit, rateLimitResetAt: resetAt }) {
      if (userKey === undefined || remaining === undefined || resetAt === undefined) return;
      const key = keyOf(userKey, `${method ?? 'POST'} ${endpoint}`);
      const record: RateLimitRecord = { remaining, resetAt, ...(limit === undefined ? {} : { limit }) };
      remember(key, record);
      // Only a record that holds the user goes to the store (the others decide nothing, and would cost a store
      // write per X request). Not awaited: this process's cache knows at once, the other processes shortly.
      if (remaining > 0) return;
      records.set(key, record, Math.max(MIN_RECORD_TTL_MS, resetAt - Date.now())).catch((error: unknown) => deps.logger?.warn({ err: error }, 'could not record an X rate limit'));
    },
    async heldUntil(userKey, endpoints) {
      const now = deps.now();
      const keys = endpoints.map((endpoint) => keyOf(userKey, endpoint));
      const known = keys.filter((key) => holds(cache.get(key), now));
      if (known.length > 0) return Math.max(...known.map((key) => cache.get(key)!.resetAt)); // no store read needed
      let stored: Array<RateLimitRecord | undefined> = [];
      try {
        stored = await records.getMany(keys);
      } catch (error) {
        deps.logger?.warn({ err: error }, 'could not read the X rate limits; using what this process saw');
      }
      const held = stored.filter((record) => holds(record, now)).map((record) => record!.resetAt);
      return held.length > 0 ? Math.max(...held) : undefined;
    },
  };
}

// --- the daily budget ------------------------------------------------------------------------------

export const BUDGET_WINDOW_MS = 24 * 3_600_000;
/** A write counts in the bucket of its quarter hour and leaves the window when the whole bucket has been in it
 *  24 h: never more than the budget in any 24 h, at most 15 minutes later than exact (98 buckets to keep). */
export const BUDGET_BUCKET_MS = 15 * 60_000;

/** Each priority's share of a budget of `budget` writes (see the module's comment for why these numbers). */
export function budgetShares(budget: number): Record<WritePriority, number> {
  const forCommands = Math.ceil(budget / 10);
  const forSchedules = Math.ceil(budget / 5);
  return { command: budget, schedule: Math.max(1, budget - forCommands), push: Math.max(1, budget - forCommands - forSchedules) };
}

/** Bucket start (ms) → writes counted in it. */
type Buckets = Record<string, number>;

export interface WriteBudget {
  readonly budget: number;
  /** Count one write of `priority`; throws XApiError `rate-limited` variant `budget` when its share is spent. */
  take(priority: WritePriority): Promise<number>;
  /** Uncount a write taken at `bucket` that never reached X. */
  giveBack(bucket: number): Promise<void>;
  /** When `writes` more push writes are estimated to be done under the budget, if the budget holds them back
   *  (from the window as last seen here: pushes keep it fresh); undefined when the push share has room for them. */
  pushFinishAt(writes: number): number | undefined;
}

/** One lock for the whole window: every counted write takes it (measured per write: Redis 0.65 ms, 0.35 ms CPU;
 *  SQLite 3.9 ms, 0.47 ms CPU, so about 250 writes a second, far above what X allows an app). Without
 *  X_DAILY_WRITE_BUDGET nothing is counted; the per-user check is one store read (0.14-0.31 ms). */
const LOCK = 'x-write-budget';

export function createWriteBudget(store: Store, budget: number, deps: { now: () => number }): WriteBudget {
  const window: Keyv<Buckets> = store.namespace<Buckets>('x-write-budget');
  const shares = budgetShares(budget);
  let seen: Array<[start: number, count: number]> = [];
  const leaves = (start: number) => start + BUDGET_BUCKET_MS + BUDGET_WINDOW_MS;

  /** The window's buckets still in it, oldest first. */
  const live = (buckets: Buckets, now: number): Array<[number, number]> =>
    Object.entries(buckets)
      .map(([start, count]): [number, number] => [Number(start), count])
      .filter(([start, count]) => leaves(start) > now && count > 0)
      .sort((a, b) => a[0] - b[0]);

  /** When the writes in the window drop below `share`, as its buckets leave it. */
  const freesAt = (buckets: Array<[number, number]>, share: number): number => {
    let used = buckets.reduce((sum, [, count]) => sum + count, 0);
    for (const [start, count] of buckets) {
      used -= count;
      if (used < share) return leaves(start);
    }
    return deps.now();
  };

  async function update<T>(change: (buckets: Array<[number, number]>, now: number) => { next?: Array<[number, number]>; result: T }): Promise<T> {
    return store.locked(LOCK, async () => {
      const now = deps.now();
      const buckets = live((await window.get('window')) ?? {}, now);
      seen = buckets; // kept also when `change` refuses: a push's estimate reads it
      const { next, result } = change(buckets, now);
      if (next) seen = next;
      if (next) await window.set('window', Object.fromEntries(next.map(([start, count]) => [String(start), count])));
      return result;
    });
  }

  return {
    budget,
    take(priority) {
      return update((buckets, now) => {
        const used = buckets.reduce((sum, [, count]) => sum + count, 0);
        const share = shares[priority];
        if (used >= share) {
          const resetAt = new Date(freesAt(buckets, share));
          throw new XApiError('rate-limited', rateLimitedParams(resetAt, now), { variant: 'budget', resetAt, detail: `daily write budget: ${used} of ${budget} used, ${priority} share ${share}` });
        }
        const bucket = Math.floor(now / BUDGET_BUCKET_MS) * BUDGET_BUCKET_MS;
        const next = buckets.some(([start]) => start === bucket) ? buckets.map(([start, count]): [number, number] => [start, start === bucket ? count + 1 : count]) : [...buckets, [bucket, 1] as [number, number]];
        return { next, result: bucket };
      });
    },
    giveBack(bucket) {
      return update((buckets) => ({ next: buckets.map(([start, count]): [number, number] => [start, start === bucket ? Math.max(0, count - 1) : count]), result: undefined }));
    },
    pushFinishAt(writes) {
      const now = deps.now();
      const buckets = seen.filter(([start]) => leaves(start) > now);
      const share = shares.push;
      let used = buckets.reduce((sum, [, count]) => sum + count, 0);
      let left = writes - Math.max(0, share - used);
      if (left <= 0) return undefined;
      // Each bucket leaving the window frees what it held, as far as the push's share goes …
      for (const [start, count] of buckets) {
        const before = Math.max(0, share - used);
        used -= count;
        left -= Math.max(0, share - used) - before;
        if (left <= 0) return leaves(start);
      }
      // … and past the window's last bucket the push's own writes come back 24 h after they were made.
      const last = buckets.length ? leaves(buckets.at(-1)![0]) : now;
      return last + Math.ceil(left / share) * BUDGET_WINDOW_MS;
    },
  };
}

// --- the decorator ---------------------------------------------------------------------------------

export interface WriteBudgetDeps {
  rateLimits: RateLimitBook;
  /** Undefined: no daily cap (X_DAILY_WRITE_BUDGET unset). */
  budget?: WriteBudget;
  now: () => number;
}

/** Neither sent nor half-sent: refused here or below before a connection existed (it cost X nothing). */
const neverReachedX = (error: unknown) => error instanceof XApiError && error.status === undefined && !error.ambiguous;

/** `x`, whose writes are held while the user's endpoint has no calls left, and counted against the daily budget. */
export function withWriteBudget(x: XClient, deps: WriteBudgetDeps): XClient {
  async function guarded<T>(method: WriteMethod, user: { token: string }, write: () => Promise<T>): Promise<T> {
    const heldUntil = await deps.rateLimits.heldUntil(xUserKey(user.token), WRITE_ENDPOINTS[method]);
    if (heldUntil !== undefined) {
      const resetAt = new Date(heldUntil);
      throw new XApiError('rate-limited', rateLimitedParams(resetAt, deps.now()), { variant: 'held', resetAt, detail: `held before ${method}: no calls left until X's reset` });
    }
    const bucket = await deps.budget?.take(currentWritePriority());
    try {
      return await write();
    } catch (error) {
      if (bucket !== undefined && neverReachedX(error)) await deps.budget!.giveBack(bucket).catch(() => undefined);
      throw error;
    }
  }
  return {
    ...x,
    uploadProfileImage: (user, image) => guarded('uploadProfileImage', user, () => x.uploadProfileImage(user, image)),
    updateProfileImage: (user, image, options) => guarded('updateProfileImage', user, () => x.updateProfileImage(user, image, options)),
    uploadProfileBanner: (user, image, region) => guarded('uploadProfileBanner', user, () => x.uploadProfileBanner(user, image, region)),
    updateProfileBanner: (user, image, region, options) => guarded('updateProfileBanner', user, () => x.updateProfileBanner(user, image, region, options)),
    updateProfile: (user, fields) => guarded('updateProfile', user, () => x.updateProfile(user, fields)),
    removeProfileBanner: (user) => guarded('removeProfileBanner', user, () => x.removeProfileBanner(user)),
  };
}
