/**
 * The app-level breaker (issue 12 item 2). Some of X's refusals are about the bot's X app, not the user:
 * 453 (access level), 261/220 (no write permission), 416 (app suspended), 402 (credits depleted), the
 * monthly usage cap, and the consumer key rejected for every user. Sending more writes then only fails
 * for everyone, so the first such answer to any call opens the breaker for the whole app: every process
 * reads its state from the store and refuses writes before sending (XApiError `app-blocked`, with the
 * next probe as `resetAt`, so a schedule or a push waits until then). Reads are never refused.
 *
 * The probe is a real waiting write: X has no write endpoint that can be tried without changing someone's
 * profile, and a read succeeding says nothing about writes (261 lets reads through). From `nextProbeAt` on,
 * exactly one write across processes (a lease per probe round) is let through; success closes the breaker
 * for everyone, another app-level answer re-opens it with the backoff doubled (1 minute, at most 1 hour).
 */
import type Keyv from 'keyv';
import type { Coordination } from '../coordination/runs.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/backend.js';
import type { XClient, UserTokens } from './client.js';
import { XApiError, type AppBlockedReason } from './errors.js';

export const BREAKER_MIN_BACKOFF_MS = 60_000;
export const BREAKER_MAX_BACKOFF_MS = 60 * 60_000;
/** How long this process trusts its copy of the state: a breaker opened in another process refuses writes
 *  here within this time (one store read per interval whatever the write rate). */
export const BREAKER_CACHE_MS = 2_000;
/** A probe round's lease: longer than one write with X's processing wait (30 s request deadline, 3 reads);
 *  a probing process that died frees the round after it. */
const PROBE_LEASE_MS = 5 * 60_000;
/** A write refused while another process's probe is under way tries again this much later. */
const PROBE_PENDING_WAIT_MS = 15_000;
/** A consumer key refused (32/215) for this many different users in a row, with no success between, is the app's. */
const CONSUMER_KEY_USERS = 3;
const KEY = 'x-app';

export interface BreakerState {
  open: boolean;
  reason: AppBlockedReason;
  openedAt: number;
  nextProbeAt: number;
  backoffMs: number;
  /** Probe rounds that ended without a verdict (a transient failure, the user's own refusal): each a new lease. */
  round: number;
}

export type BreakerEvent = { kind: 'opened'; reason: AppBlockedReason; nextProbeAt: number } | { kind: 'closed'; reason: AppBlockedReason; openedAt: number };

export interface BreakerDeps {
  store: Store;
  coordination: Pick<Coordination, 'coordinator'>;
  logger: Logger;
  /** Tests move it; Date.now by default. */
  clock?: { now(): number };
  /** Told once per opening and once per closing, in the process that made the change (the operator's channel). */
  tell?(event: BreakerEvent): Promise<void>;
}

export interface Breaker {
  /** The state as last read (at most BREAKER_CACHE_MS old); undefined or `open: false` when closed. */
  status(): Promise<BreakerState | undefined>;
  /** The state as last read, without reading the store. */
  known(): BreakerState | undefined;
  /** Runs a write unless the app is blocked; opens or closes the breaker from the result. */
  write<T>(user: UserTokens, send: () => Promise<T>): Promise<T>;
  /** Runs a read (never refused); an app-level answer opens the breaker. */
  read<T>(user: UserTokens | undefined, send: () => Promise<T>): Promise<T>;
}

const appLevel = (error: unknown): error is XApiError => error instanceof XApiError && error.kind === 'app-blocked';
/** 32 "could not authenticate you" and 215 "bad authentication data": the consumer key or the user's token. */
const keyRefused = (error: unknown): error is XApiError => error instanceof XApiError && error.kind === 'auth' && (error.code === 32 || error.code === 215);

export function createBreaker(deps: BreakerDeps): Breaker {
  const { store, coordination, logger } = deps;
  const clock = deps.clock ?? { now: () => Date.now() };
  const states: Keyv<BreakerState> = store.namespace<BreakerState>('x-breaker');
  let cached: { state: BreakerState | undefined; readAt: number } | undefined;
  let reading: Promise<BreakerState | undefined> | undefined;
  const refusedBy = new Set<string>();

  async function status(): Promise<BreakerState | undefined> {
    if (cached && performance.now() - cached.readAt < BREAKER_CACHE_MS) return cached.state;
    reading ??= states
      .get(KEY)
      .then(
        (state) => {
          cached = { state, readAt: performance.now() };
          return state;
        },
        (error: unknown) => {
          // A store outage neither opens nor closes the breaker: what this process knew stands until it answers.
          logger.warn({ err: error }, 'could not read the X breaker state; keeping the last one');
          if (cached) cached.readAt = performance.now();
          return cached?.state;
        },
      )
      .finally(() => (reading = undefined));
    return reading;
  }

  const remember = (state: BreakerState | undefined) => void (cached = { state, readAt: performance.now() });

  const told = async (event: BreakerEvent) => {
    try {
      await deps.tell?.(event);
    } catch (error) {
      logger.warn({ err: error, event: event.kind }, 'could not tell the operator about the X breaker');
    }
  };

  /** X refused the app: opens the breaker, or (a probe was due) re-opens it with the backoff doubled. */
  async function open(reason: AppBlockedReason): Promise<BreakerState> {
    const now = clock.now();
    let opened = false;
    const fresh = (backoffMs: number): BreakerState => ({ open: true, reason, openedAt: now, nextProbeAt: now + backoffMs, backoffMs, round: 0 });
    let state: BreakerState;
    try {
      state = await store.locked(`x-breaker:${KEY}`, async () => {
        const stored = await states.get(KEY);
        let next: BreakerState;
        if (!stored?.open) {
          opened = true;
          next = fresh(BREAKER_MIN_BACKOFF_MS);
        } else if (now >= stored.nextProbeAt) {
          // The probe failed, or a read met the refusal once a probe was due (when X refuses reads too, no
          // waiting write gets as far as its probe): either way the app is still refused, so back off further.
          const backoffMs = Math.min(stored.backoffMs * 2, BREAKER_MAX_BACKOFF_MS);
          next = { ...stored, reason, backoffMs, nextProbeAt: now + backoffMs, round: stored.round + 1 };
        } else return stored; // already open (a write that was in flight when it opened): nothing changes
        await states.set(KEY, next);
        return next;
      });
    } catch (error) {
      // The store cannot record it: this process refuses writes anyway, and records it at the next app-level answer.
      logger.warn({ err: error }, 'could not record the X breaker opening in the store');
      opened = !cached?.state?.open;
      state = cached?.state?.open ? cached.state : fresh(BREAKER_MIN_BACKOFF_MS);
    }
    remember(state);
    if (opened) {
      logger.error({ reason, nextProbeAt: new Date(state.nextProbeAt).toISOString() }, 'X refuses the app: no X writes for any user until a probe succeeds');
      void told({ kind: 'opened', reason, nextProbeAt: state.nextProbeAt }); // not awaited: the write's caller does not wait on Discord
    }
    return state;
  }

  async function close(probe: BreakerState): Promise<void> {
    let closed = false;
    try {
      // Another process may have closed it, or re-opened it since (a newer opening stays open).
      const now = await store.locked(`x-breaker:${KEY}`, async () => {
        const stored = await states.get(KEY);
        if (!stored?.open || stored.openedAt !== probe.openedAt) return stored;
        closed = true;
        await states.set(KEY, { ...stored, open: false });
        return { ...stored, open: false };
      });
      remember(now);
    } catch (error) {
      logger.warn({ err: error }, 'could not record the X breaker closing in the store; the next probe closes it');
      return;
    }
    if (!closed) return;
    logger.info({ reason: probe.reason, openedAt: new Date(probe.openedAt).toISOString() }, 'X accepts the app again: X writes resume');
    void told({ kind: 'closed', reason: probe.reason, openedAt: probe.openedAt });
  }

  /** A probe round without a verdict: the next due write probes again. */
  async function nextRound(probe: BreakerState): Promise<void> {
    try {
      await store.locked(`x-breaker:${KEY}`, async () => {
        const stored = await states.get(KEY);
        if (stored?.open && stored.openedAt === probe.openedAt && stored.round === probe.round) await states.set(KEY, { ...stored, round: stored.round + 1 });
      });
      cached = undefined;
    } catch (error) {
      logger.warn({ err: error }, 'could not end an X breaker probe round; its lease ends it');
    }
  }

  const refusal = (state: BreakerState, retryAt: number) =>
    new XApiError('app-blocked', {}, { variant: state.reason, resetAt: new Date(retryAt), detail: `refused before sending: X refuses the app (${state.reason}) since ${new Date(state.openedAt).toISOString()}` });

  /** What X's answer means for the app; the caller gets `app-blocked` with the next probe as `resetAt`. */
  async function observe(user: UserTokens | undefined, error: unknown, probe: BreakerState | undefined): Promise<unknown> {
    let reason: AppBlockedReason | undefined;
    if (appLevel(error)) reason = error.variant as AppBlockedReason;
    else if (keyRefused(error) && user) {
      refusedBy.add(user.token);
      if (refusedBy.size >= CONSUMER_KEY_USERS) reason = 'consumer-key';
    }
    if (reason === undefined) {
      if (probe) await nextRound(probe);
      return error;
    }
    refusedBy.clear();
    const state = await open(reason);
    const cause = error as XApiError;
    return new XApiError('app-blocked', {}, { variant: reason, status: cause.status, code: cause.code, resetAt: new Date(state.nextProbeAt), detail: cause.message, cause });
  }

  return {
    status,
    known: () => cached?.state,
    async read(user, send) {
      try {
        const result = await send();
        refusedBy.clear();
        return result;
      } catch (error) {
        throw await observe(user, error, undefined);
      }
    },
    async write(user, send) {
      let state = await status();
      let probe: BreakerState | undefined;
      if (state?.open && clock.now() >= state.nextProbeAt) {
        // A probe is due: another process may have closed (or re-opened) the breaker since this copy was read.
        cached = undefined;
        state = await status();
      }
      if (state?.open) {
        const now = clock.now();
        if (now < state.nextProbeAt) throw refusal(state, state.nextProbeAt);
        let taken = false;
        try {
          taken = await coordination.coordinator.shouldRun(`x-breaker-probe:${state.openedAt}:${state.round}`, PROBE_LEASE_MS);
        } catch (error) {
          logger.warn({ err: error }, 'could not take the X breaker probe lease');
        }
        if (!taken) throw refusal(state, now + PROBE_PENDING_WAIT_MS);
        probe = state;
        logger.info({ reason: state.reason }, 'probing X with a waiting write');
      }
      let result: Awaited<ReturnType<typeof send>>;
      try {
        result = await send();
      } catch (error) {
        throw await observe(user, error, probe);
      }
      refusedBy.clear();
      if (probe) await close(probe);
      return result;
    },
  };
}

/** The X client with the breaker in front of its writes. */
export function withBreaker(x: XClient, breaker: Breaker): XClient {
  return {
    ...x,
    requestToken: (callback) => breaker.read(undefined, () => x.requestToken(callback)),
    accessToken: (requestToken, verifier) => breaker.read(undefined, () => x.accessToken(requestToken, verifier)),
    verifyCredentials: (user) => breaker.read(user, () => x.verifyCredentials(user)),
    profileBanner: (user, userId) => breaker.read(user, () => x.profileBanner(user, userId)),
    invalidateToken: (user) => breaker.read(user, () => x.invalidateToken(user)),
    uploadProfileImage: (user, image) => breaker.write(user, () => x.uploadProfileImage(user, image)),
    updateProfileImage: (user, image, options) => breaker.write(user, () => x.updateProfileImage(user, image, options)),
    uploadProfileBanner: (user, image, region) => breaker.write(user, () => x.uploadProfileBanner(user, image, region)),
    updateProfileBanner: (user, image, region, options) => breaker.write(user, () => x.updateProfileBanner(user, image, region, options)),
    updateProfile: (user, fields) => breaker.write(user, () => x.updateProfile(user, fields)),
    removeProfileBanner: (user) => breaker.write(user, () => x.removeProfileBanner(user)),
  };
}
