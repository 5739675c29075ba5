/**
 * Team branding: an admin pushes one image to every member of a server who opted in, and can revert it.
 * A push is a job in the store, so it survives a restart and several processes run it once between them.
 *
 * - Two stages per member. The prepare stage checks the member and saves their avatar from before (their
 *   original) when they have none, ahead of the uploads by a bounded number of members. A small pool of
 *   upload slots (BRANDING_CONCURRENCY) takes prepared members; a slot is held while the member's change is
 *   recorded and their upload talks to X, not during X's processing wait (the final URL is read later, see
 *   changes/pipeline.ts), so the waits of many members overlap. An original saved ahead and never uploaded
 *   over (a stop, a failure first) is dropped again. Each member's outcome is stored the moment it is known.
 *   Each upload is a change in the change journal: a restart finishes a change X accepted and the resumed
 *   push waits for it instead of uploading again; one that completed is found on top of the member's
 *   history (recorded before the upload) and is not uploaded again either.
 * - Consent and membership are checked again in the prepare stage, a few members before the upload.
 * - A rate-limited member waits for X's reset, and at least a minute, doubling with each 429 (see
 *   x/rate-limit.ts), without holding a worker; a transient failure is retried a
 *   few times with backoff; a broken or missing link fails the member (they must link again).
 * - One push per server at a time; across processes a lease says which one runs it.
 * - Revert takes back, member by member, what the push changed, unless they changed avatar since.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { AccountError } from '../account-errors.js';
import { ChangeDeferred } from '../changes/pipeline.js';
import type { AppliedAvatar, AvatarChanges, PreparedChange } from '../avatar-changes.js';
import { UserFacingError } from '../errors.js';
import { createKeyedLock } from '../keyed-lock.js';
import type { Logger } from '../log.js';
import type { Coordination } from '../schedule/coordination.js';
import { StoreError, type Store } from '../store/backend.js';
import { hashImage, type StoredImage } from '../store/history.js';
import { VaultError } from '../store/vault.js';
import { XApiError } from '../x/errors.js';
import { RATE_LIMIT_MIN_WAIT_MS, rateLimitRetryAt } from '../x/rate-limit.js';
import type { ConsentStore } from './consent.js';
import { createJobStore, type MemberResult, type Phase, type PushJob } from './jobs.js';
import { LEASE_SLOT_MS, takeLease, type Lease } from './lease.js';
import type { Locale } from '../i18n/locale.js';
import { t } from '../i18n/t.js';

export type { MemberResult, MemberStatus, PushJob, PushState } from './jobs.js';

export const DEFAULT_BRANDING_CONCURRENCY = 4;
export const PROGRESS_EVERY_MS = 2_000;
/** Our own retries of a transient failure, on top of the X client's three quick ones. */
const TRANSIENT_RETRIES = 3;
const RATE_LIMIT_RETRIES = 5;
const START_LEASE_MS = 5_000;
/** Members prepared at once, per upload slot. */
const PREPARE_PER_SLOT = 2;
/** Members prepared (or being prepared) and not yet uploaded, per upload slot: what the prepare stage keeps in memory. */
const LOOKAHEAD_PER_SLOT = 3;

export const BRANDING_ERROR_KINDS = ['push-running', 'no-members', 'no-push', 'cannot-revert', 'held-elsewhere'] as const;
export type BrandingErrorKind = (typeof BRANDING_ERROR_KINDS)[number];

export class BrandingError extends UserFacingError<BrandingErrorKind> {}

export interface PushInput {
  guildId: string;
  adminId: string;
  /** Already normalised by the caller (once); stored once for the whole job. */
  image: StoredImage;
  label: string;
  /** Defaults to every member who opted in; each is checked again before their upload. */
  targets?: string[];
}

/** What a progress listener receives: "37/120 · 2 failed · about 40 s left" with describeProgress. */
export interface PushProgress {
  phase: Phase;
  done: number;
  failed: number;
  skipped: number;
  total: number;
  /** Undefined until the first member of this run is finished. */
  etaSeconds: number | undefined;
}

export type ProgressListener = (progress: PushProgress) => void;

export interface PushRunnerDeps {
  store: Store;
  avatars: AvatarChanges;
  consent: ConsentStore;
  coordination: Coordination;
  logger: Logger;
  /** Members uploaded at once (BRANDING_CONCURRENCY, 4 by default). */
  concurrency?: number;
  clock?: { now(): number };
  /** Waits; must settle early (resolve or reject) when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** Whether the user is still in the guild; everyone is by default. */
  isMember?(guildId: string, userId: string): Promise<boolean>;
  /** First backoff after a transient failure; doubles at each retry (2 s by default). */
  transientRetryMs?: number;
  /** First wait after a 429, even when X's reset is sooner; doubles at each 429 (60 s by default). */
  rateLimitWaitMs?: number;
}

export interface PushRunner {
  /** Create the job and make it the guild's active push; throws BrandingError('push-running') when one runs. */
  start(input: PushInput): Promise<string>;
  /** Carry the job on in this process until it is finished (or the runner stops); progress at most every
   *  2 s, and once at the end. Throws BrandingError('held-elsewhere') when another process runs it. */
  run(jobId: string, onProgress?: ProgressListener): Promise<PushJob>;
  /** At process start: carry on, in the background, every running (or reverting) job whose lease nobody
   *  holds, and return once that is decided; `run(jobId)` then waits for one of them to finish. Jobs held
   *  by another process are looked at again every lease slot, in case that process dies. */
  resume(onProgress?: (job: PushJob, progress: PushProgress) => void): Promise<{ carriedOn: string[]; heldElsewhere: string[] }>;
  /** The guild's recent jobs, newest first. */
  status(guildId: string): Promise<PushJob[]>;
  /** Revert the guild's newest push (or the one named) and wait for it to finish. */
  revert(guildId: string, options?: { jobId?: string; adminId?: string; onProgress?: ProgressListener }): Promise<PushJob>;
  /** Stop taking members; in-flight ones finish and are recorded. Jobs stay running for the next resume(),
   *  which another process can do once this one's lease has run out (within about a minute). */
  stop(): Promise<void>;
}

/** How many of the phase's members are in each state. */
export function counts(job: PushJob, phase: Phase): Omit<PushProgress, 'etaSeconds' | 'phase'> & { pending: number } {
  const results = Object.values(phase === 'push' ? job.results : (job.reverts ?? {}));
  const count = (status: MemberResult['status']) => results.filter((result) => result.status === status).length;
  return { done: count('done'), failed: count('failed'), skipped: count('skipped'), pending: count('pending'), total: results.length };
}

/** "37/120 · 2 failed · 1 skipped · about 40 s left" (the first number counts every finished member). */
export function describeProgress(progress: PushProgress, locale: Locale = 'en-US'): string {
  const finished = progress.done + progress.failed + progress.skipped;
  const parts = [`${finished}/${progress.total}`];
  if (progress.failed) parts.push(t(locale, 'branding.progress.failed', { count: progress.failed }));
  if (progress.skipped) parts.push(t(locale, 'branding.progress.skipped', { count: progress.skipped }));
  if (progress.etaSeconds !== undefined && finished < progress.total) {
    const seconds = progress.etaSeconds;
    parts.push(
      seconds < 60
        ? t(locale, 'branding.progress.seconds-left', { seconds: Math.max(5, Math.ceil(seconds / 5) * 5) })
        : t(locale, 'branding.progress.minutes-left', { minutes: Math.ceil(seconds / 60) }),
    );
  }
  return parts.join(' · ');
}

/** A member's outcome; a pending one is tried again at `retryAt`. */
type Attempt = { result: MemberResult; retryAt?: number };

/** What a failed upload or revert means for the member: a kind (and parameters) worded where it is shown. */
type Failure = Pick<MemberResult, 'kind' | 'params' | 'variant'> & { kind: string; retry?: 'rate-limited' | 'transient'; resetAt?: number };

function classify(error: unknown): Failure {
  if (error instanceof VaultError) return { kind: error.kind === 'damaged-link' ? error.kind : 'not-linked' };
  if (error instanceof AccountError) {
    if (error.kind === 'link-revoked' || error.kind === 'nothing-to-revert' || error.kind === 'history-entry-gone') return { kind: error.kind };
  }
  if (error instanceof XApiError) {
    switch (error.kind) {
      case 'token-revoked':
        return { kind: 'token-revoked' };
      case 'rate-limited':
        return { kind: error.kind, retry: 'rate-limited', ...(error.resetAt ? { resetAt: error.resetAt.getTime() } : {}) };
      case 'transient':
        return { kind: error.kind, retry: 'transient' };
    }
  }
  const words = (known: UserFacingError): Failure => ({
    kind: known.kind,
    ...(Object.keys(known.params).length ? { params: { ...known.params } } : {}),
    ...(known.variant !== undefined ? { variant: known.variant } : {}),
  });
  // A record of the member stayed locked: a change of theirs in flight, or a lease of a process that died
  // (it expires within 15 s). Waiting is enough.
  if (error instanceof StoreError && error.kind === 'busy') return { ...words(error), retry: 'transient' };
  if (error instanceof UserFacingError) return words(error);
  return { kind: 'internal' };
}

export function createPushRunner(deps: PushRunnerDeps): PushRunner {
  const { avatars, consent, coordination, logger } = deps;
  const jobs = createJobStore(deps.store);
  const concurrency = deps.concurrency ?? DEFAULT_BRANDING_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`branding concurrency must be a positive integer, got ${concurrency}`);
  // The prepare stage runs beside the slots. In the 500-member bench (X: reads 50 ms, downloads 50 ms, uploads
  // 200 ms) a member took 225-320 ms to prepare (checks, verify_credentials, download, sharp, store) against
  // 280-370 ms of slot time: one preparation per slot starved the slots whenever it ran slow, so two per slot.
  // The lookahead must exceed the preparations at once, or nothing prepared could wait for a slot.
  const prepareConcurrency = concurrency * PREPARE_PER_SLOT;
  const lookahead = concurrency * LOOKAHEAD_PER_SLOT;
  const clock = deps.clock ?? { now: () => Date.now() };
  const sleep = deps.sleep ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined));
  const isMember = deps.isMember ?? (async () => true);
  const transientRetryMs = deps.transientRetryMs ?? 2_000;
  const rateLimitWaitMs = deps.rateLimitWaitMs ?? RATE_LIMIT_MIN_WAIT_MS;
  const guildLock = createKeyedLock();
  const stamp = () => new Date(clock.now()).toISOString();

  /** Jobs this process is working on, with who wants their progress. */
  const running = new Map<string, { done: Promise<PushJob>; listeners: Set<ProgressListener> }>();
  const stopping = new AbortController();
  let resumeTimer: NodeJS.Timeout | undefined;

  async function busy(guildId: string): Promise<PushJob | undefined> {
    const { active } = await jobs.guild(guildId);
    const job = active === undefined ? undefined : await jobs.get(active);
    return job && (job.state === 'running' || job.state === 'reverting') ? job : undefined;
  }

  function refuseBusy(job: PushJob): never {
    const { done, failed, skipped, total } = counts(job, job.state === 'running' ? 'push' : 'revert');
    throw new BrandingError('push-running', { label: job.label, finished: done + failed + skipped, total }, { variant: job.state === 'running' ? 'pushing' : 'reverting' });
  }

  /** A member's outcome, or (once X accepted the upload, when the worker is free again) the outcome to come. */
  type Outcome = MemberResult | { later: Promise<MemberResult> };

  /** A change of this job to the member left by a restart, still in progress: wait for it, do not upload again. */
  const leftOver = (job: PushJob, userId: string, phase: Phase) =>
    avatars.pending(userId, (origin) => origin.kind === 'push' && origin.jobId === job.id && origin.phase === phase);

  /** A member the prepare stage found to need an upload: the attempt it recorded, and (a push) their original saved ahead. */
  type Staged = { attempt: MemberResult; prepared?: PreparedChange };
  /** Stores the attempt before X is touched: what to restore, and that an upload was tried. */
  type RecordAttempt = (attempt: MemberResult) => Promise<void>;

  const pushFinished = (attempts: number, previous: string, applied: AppliedAvatar): MemberResult => {
    const done: MemberResult = { status: 'done', attempts, at: stamp(), url400: applied.user.profileImage.size400, previous };
    return applied.entry ? { ...done, entryId: applied.entry.id } : done;
  };

  /** The prepare stage of a push (no upload slot held): the checks, then the member's original saved if they have none. */
  async function preparePush(job: PushJob, userId: string, before: MemberResult, record: RecordAttempt): Promise<Outcome | { upload: Staged }> {
    const at = stamp();
    const joined = leftOver(job, userId, 'push');
    if (joined) return { later: joined.final.then((applied) => pushFinished(before.attempts, before.previous ?? 'original', applied)) };
    // Read together: these are independent.
    const [opted, member, { entries }] = await Promise.all([consent.has(job.guildId, userId), isMember(job.guildId, userId), avatars.history(userId)]);
    if (!opted) return { ...before, status: 'skipped', kind: 'not-opted-in', at };
    if (!member) return { ...before, status: 'skipped', kind: 'left-server', at };
    const last = entries.at(-1);
    if (before.previous !== undefined && last && last.id !== before.previous && last.hash === job.image.hash && last.source === 'branding') {
      // An earlier run's upload reached X and is in the history, but that process stopped before recording it.
      return { ...before, status: 'done', url400: last.url400, entryId: last.id, at };
    }
    const attempt: MemberResult = { ...before, previous: before.previous ?? last?.id ?? 'original', attempts: before.attempts + 1, at };
    await record(attempt);
    return { upload: { attempt, prepared: await avatars.prepare(userId) } };
  }

  /** The upload stage (holds a slot). */
  async function uploadPush(job: PushJob, image: StoredImage, userId: string, { attempt, prepared }: Staged): Promise<Outcome> {
    const started = await avatars.begin(userId, image, 'branding', job.label, { kind: 'push', jobId: job.id, phase: 'push' }, prepared ? { prepared } : {});
    return { later: started.final.then((applied) => pushFinished(attempt.attempts, attempt.previous!, applied)) };
  }

  const revertFinished = (attempts: number, applied: AppliedAvatar): MemberResult => ({ status: 'done', attempts, at: stamp(), url400: applied.user.profileImage.size400 });

  async function prepareRevert(job: PushJob, userId: string, before: MemberResult, record: RecordAttempt): Promise<Outcome | { upload: Staged }> {
    const pushed = job.results[userId];
    const at = stamp();
    const joined = leftOver(job, userId, 'revert');
    if (joined) return { later: joined.final.then((applied) => revertFinished(before.attempts, applied)) };
    const { entries, original } = await avatars.history(userId);
    const last = entries.at(-1);
    if (!pushed?.entryId || last?.id !== pushed.entryId) {
      const restored = pushed?.previous === 'original' ? entries.length === 0 : last !== undefined && last.id === pushed?.previous;
      if (before.attempts > 0 && restored) {
        // Reverted by a run that stopped before recording it: the restored image's URL is in the history.
        const url400 = pushed?.previous === 'original' ? (original?.saved ? original.url : undefined) : last?.url400;
        return { ...before, status: 'done', at, ...(url400 ? { url400 } : {}) };
      }
      return { ...before, status: 'skipped', kind: 'changed-since', at };
    }
    const attempt: MemberResult = { ...before, attempts: before.attempts + 1, at };
    await record(attempt);
    return { upload: { attempt } };
  }

  async function uploadRevert(job: PushJob, userId: string, { attempt }: Staged): Promise<Outcome> {
    // The push's entry is the newest: AvatarChanges.revert drops it and re-applies the one before it, or the
    // saved original, so the member's history reads as if the push had not happened.
    const started = await avatars.beginRevert(userId, { kind: 'push', jobId: job.id, phase: 'revert' });
    return { later: started.final.then((applied) => revertFinished(attempt.attempts, applied)) };
  }

  /** Work through the phase's pending members with the worker pool; returns whether it got to the end. */
  async function runPhase(job: PushJob, phase: Phase, lease: Lease, listeners: Set<ProgressListener>): Promise<boolean> {
    const image = phase === 'push' ? await jobs.image(job.id) : undefined;
    if (phase === 'push' && !image) throw new Error(`the image of branding job ${job.id} is gone`);
    const results = phase === 'push' ? job.results : (job.reverts ??= {});
    const members = phase === 'push' ? job.targets : Object.keys(results);
    const ready = members.filter((userId) => results[userId]?.status === 'pending');
    const waiting = new Map<string, number>(); // member → when to try again
    const retries = new Map<string, number>();
    const stopHere = new AbortController();
    const abort = () => stopHere.abort();
    stopping.signal.addEventListener('abort', abort);
    let inFlight = 0; // members taken from `ready` and not concluded (being prepared, prepared, uploading, or awaiting their final URL)
    const tails = new Set<Promise<void>>();
    let halted = false; // the lease was lost or the store failed
    let wake: () => void = () => {};
    let woken = new Promise<void>((resolve) => (wake = resolve));
    const signal = () => {
      wake();
      woken = new Promise<void>((resolve) => (wake = resolve));
    };

    const startedAt = clock.now();
    const finishedAtStart = members.length - ready.length;
    let lastProgress = clock.now();
    const progress = (): PushProgress => {
      const { done, failed, skipped, total } = counts(job, phase);
      const finishedNow = done + failed + skipped - finishedAtStart;
      const etaSeconds = finishedNow > 0 ? Math.round(((clock.now() - startedAt) / finishedNow) * (total - done - failed - skipped) / 1000) : undefined;
      return { phase, done, failed, skipped, total, etaSeconds };
    };
    const report = (force = false) => {
      if (!force && clock.now() - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = clock.now();
      const snapshot = progress();
      for (const listener of listeners) {
        try {
          listener(snapshot);
        } catch (error) {
          logger.warn({ err: error, job: job.id }, 'a branding progress listener threw');
        }
      }
    };

    async function settle(userId: string, current: MemberResult, error: unknown): Promise<Attempt> {
      const { retry, resetAt: failedUntil, ...failure } = classify(error);
      const { reason: _old, params: _params, variant: _variant, ...rest } = current; // the words of an earlier failure go
      const base: MemberResult = { ...rest, at: stamp(), ...failure };
      const tries = retries.get(userId) ?? 0;
      if (retry === 'rate-limited' && tries < RATE_LIMIT_RETRIES) {
        retries.set(userId, tries + 1);
        // Never sooner than a minute, doubling with each 429 (see rateLimitRetryAt): a reset already past meant at once.
        const resetAt = failedUntil === undefined ? undefined : new Date(failedUntil);
        return { result: { ...base, status: 'pending' }, retryAt: rateLimitRetryAt(resetAt, clock.now(), tries + 1, rateLimitWaitMs) };
      }
      if (retry === 'transient' && tries < TRANSIENT_RETRIES) {
        retries.set(userId, tries + 1);
        return { result: { ...base, status: 'pending' }, retryAt: clock.now() + transientRetryMs * 2 ** tries };
      }
      if (failure.kind === 'internal') logger.error({ err: error, job: job.id, user: userId }, 'branding member failed');
      if (failure.kind === 'damaged-link') logger.warn({ err: error, job: job.id, user: userId }, 'a stored X link cannot be opened');
      return { result: { ...base, status: 'failed' } };
    }

    type Step = { tail?: Promise<void>; staged?: true };
    type StagedMember = Staged & { userId: string; before: MemberResult };
    const staged: StagedMember[] = []; // prepared, waiting for an upload slot
    let preparing = 0;
    const preparations = new Set<Promise<void>>();

    /** A member's outcome: concluded now, or (X is processing the image) a tail that concludes it later. */
    async function follow(userId: string, before: MemberResult, outcome: Outcome): Promise<Step> {
      if (!('later' in outcome)) {
        await conclude(userId, { result: outcome });
        return {};
      }
      return {
        tail: outcome.later.then(
          (result) => conclude(userId, { result }),
          async (error: unknown) => {
            // Stopped during X's processing: the member stays pending; the next run joins the recovered change.
            if (error instanceof ChangeDeferred) return;
            await conclude(userId, await settle(userId, results[userId] ?? before, error));
          },
        ),
      };
    }

    /** The prepare stage: a member's checks and original, while the upload slots serve the members before. */
    async function prepareOne(userId: string): Promise<Step> {
      const before = results[userId] ?? { status: 'pending', attempts: 0 };
      const record = async (attempt: MemberResult) => {
        results[userId] = attempt;
        await jobs.setResult(job.id, phase, userId, attempt);
      };
      let found: Outcome | { upload: Staged };
      try {
        found = phase === 'push' ? await preparePush(job, userId, before, record) : await prepareRevert(job, userId, before, record);
      } catch (error) {
        await conclude(userId, await settle(userId, results[userId] ?? before, error));
        return {};
      }
      if (!('upload' in found)) return follow(userId, before, found);
      staged.push({ ...found.upload, userId, before });
      return { staged: true };
    }

    /** The upload stage: returns once the slot is free, at X's acceptance, with the rest (`tail`) still to come. */
    async function uploadOne(member: StagedMember): Promise<Step> {
      const { userId, before } = member;
      let outcome: Outcome;
      try {
        outcome = phase === 'push' ? await uploadPush(job, image!, userId, member) : await uploadRevert(job, userId, member);
      } catch (error) {
        await conclude(userId, await settle(userId, results[userId] ?? before, error));
        return {};
      }
      return follow(userId, before, outcome);
    }

    async function conclude(userId: string, outcome: Attempt): Promise<void> {
      results[userId] = outcome.result;
      await jobs.setResult(job.id, phase, userId, outcome.result);
      if (outcome.retryAt !== undefined) waiting.set(userId, outcome.retryAt);
      report();
    }

    const free = () => {
      inFlight--;
      signal();
    };
    const storeFailed = (userId: string, error: unknown) => {
      // The store failed: leave the member pending for the next run rather than guess.
      logger.error({ err: error, job: job.id, user: userId }, 'could not record a branding result');
      halted = true;
    };

    /** Counts the member in flight until it is concluded: when `work` returns, or its tail settles; a staged one goes on to a slot. */
    async function carry(userId: string, work: Promise<Step>): Promise<void> {
      let step: Step = {};
      try {
        step = await work;
      } catch (error) {
        storeFailed(userId, error);
      }
      if (step.staged) return;
      if (!step.tail) return free();
      const concluded: Promise<void> = step.tail
        .catch((error: unknown) => storeFailed(userId, error))
        .finally(() => {
          tails.delete(concluded);
          free();
        });
      tails.add(concluded);
    }

    /** Keeps the prepare stage running ahead of the slots, by at most `lookahead` members (prepared or being prepared). */
    function prepareAhead(): void {
      while (!stopHere.signal.aborted && !halted && ready.length > 0 && preparing < prepareConcurrency && preparing + staged.length < lookahead) {
        const userId = ready.shift()!;
        inFlight++;
        preparing++;
        const preparation: Promise<void> = carry(userId, prepareOne(userId)).finally(() => {
          preparing--;
          preparations.delete(preparation);
          prepareAhead();
          signal();
        });
        preparations.add(preparation);
      }
    }

    /** An upload slot: takes prepared members, and holds the slot for their upload only. */
    async function worker(): Promise<void> {
      for (;;) {
        if (stopHere.signal.aborted || halted) return;
        const now = clock.now();
        for (const [userId, at] of waiting) {
          if (at > now) continue;
          waiting.delete(userId);
          ready.push(userId);
        }
        prepareAhead();
        const member = staged.shift();
        if (member === undefined) {
          if (ready.length === 0 && waiting.size === 0 && inFlight === 0) return signal(); // nothing left: let the others see it too
          const next = waiting.size ? Math.min(...waiting.values()) - now : undefined;
          const nap = new AbortController(); // woken early (a member prepared or finished, or stop): cancel the timer
          await Promise.race([woken, ...(next === undefined ? [] : [sleep(Math.max(0, next), nap.signal)])]);
          nap.abort();
          continue;
        }
        prepareAhead(); // its place in the lookahead is free
        if (!(await lease.held())) {
          halted = true;
          staged.unshift(member);
          logger.warn({ job: job.id, phase }, 'lost the branding lease; another process carries the job on');
          return signal();
        }
        await carry(member.userId, uploadOne(member));
      }
    }

    stopHere.signal.addEventListener('abort', signal);
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ready.length)) }, () => worker()));
      await Promise.allSettled([...preparations]);
      // Stopped (or halted) with members prepared and not uploaded: they stay pending, and the originals saved
      // for them go, as they would had X refused the upload.
      for (const { userId, prepared } of staged.splice(0)) {
        await prepared?.discard().catch((error: unknown) => logger.warn({ err: error, job: job.id, user: userId }, 'could not drop an original saved ahead'));
      }
      await Promise.allSettled([...tails]); // a stop lets accepted uploads finish and be recorded
    } finally {
      stopping.signal.removeEventListener('abort', abort);
      stopHere.abort();
    }
    const finished = !halted && !stopping.signal.aborted && members.every((userId) => results[userId]?.status !== 'pending');
    report(true);
    return finished;
  }

  type Claim = { job: PushJob; phase: Phase; lease: Lease };

  /** The job with its lease, or the job as it is when there is nothing left to run. */
  async function claim(jobId: string): Promise<Claim | PushJob> {
    const job = await jobs.get(jobId);
    if (!job) throw new BrandingError('no-push', {}, { variant: 'gone' });
    if (job.state !== 'running' && job.state !== 'reverting') {
      await guildLock.run(job.guildId, () => jobs.deactivate(job.guildId, job.id)); // finished just before a restart
      return job;
    }
    const phase: Phase = job.state === 'running' ? 'push' : 'revert';
    const lease = await takeLease(coordination, `branding:${job.guildId}:${job.id}:${phase}`);
    if (!lease) throw new BrandingError('held-elsewhere');
    return { job, phase, lease };
  }

  async function carryOn({ job, phase, lease }: Claim, listeners: Set<ProgressListener>): Promise<PushJob> {
    try {
      logger.info({ job: job.id, guild: job.guildId, phase, ...counts(job, phase) }, 'branding job running');
      if (!(await runPhase(job, phase, lease, listeners))) return job;
      const finished: PushJob = phase === 'push' ? { ...job, state: 'done', finishedAt: stamp() } : { ...job, state: 'reverted', revertedAt: stamp() };
      await jobs.finishPhase(finished, phase);
      await guildLock.run(job.guildId, () => jobs.deactivate(job.guildId, job.id));
      logger.info({ job: job.id, guild: job.guildId, phase, ...counts(finished, phase) }, 'branding job finished');
      return (await jobs.get(job.id)) ?? finished;
    } finally {
      lease.release();
    }
  }

  type ClaimAnswer = 'leased' | 'finished' | 'refused';

  /** Start (or join) this process's work on a job; `claimed` says, as soon as it is known, whether this process runs it. */
  function launch(jobId: string, onProgress?: ProgressListener): { done: Promise<PushJob>; claimed: Promise<ClaimAnswer> } {
    const existing = running.get(jobId);
    if (existing) {
      if (onProgress) existing.listeners.add(onProgress);
      return { done: existing.done, claimed: Promise.resolve('leased') };
    }
    if (stopping.signal.aborted) {
      const refused = Promise.reject(new BrandingError('held-elsewhere', {}, { variant: 'stopping' }));
      return { done: refused, claimed: Promise.resolve('refused') };
    }
    const listeners = new Set<ProgressListener>(onProgress ? [onProgress] : []);
    let answer: (claimed: ClaimAnswer) => void = () => {};
    const claimed = new Promise<ClaimAnswer>((resolve) => (answer = resolve));
    const done = (async () => {
      let claimedJob: Claim | PushJob;
      try {
        claimedJob = await claim(jobId);
      } catch (error) {
        answer('refused');
        throw error;
      }
      if (!('lease' in claimedJob)) {
        answer('finished');
        return claimedJob;
      }
      answer('leased');
      return carryOn(claimedJob, listeners);
    })().finally(() => running.delete(jobId));
    running.set(jobId, { done, listeners });
    return { done, claimed };
  }

  async function resume(onProgress?: (job: PushJob, progress: PushProgress) => void): Promise<{ carriedOn: string[]; heldElsewhere: string[] }> {
    const carriedOn: string[] = [];
    const heldElsewhere: string[] = [];
    const active: string[] = [];
    for await (const { jobId } of jobs.activeJobs()) active.push(jobId); // list first: running them writes the same records
    for (const jobId of active) {
      if (stopping.signal.aborted) break;
      if (running.has(jobId)) continue;
      const job = await jobs.get(jobId);
      if (!job) continue;
      const { done, claimed } = launch(jobId, onProgress ? (progress) => onProgress(job, progress) : undefined);
      if ((await claimed) === 'leased') {
        carriedOn.push(jobId);
        done.catch((error: unknown) => logger.error({ err: error, job: jobId }, 'resuming a branding job failed'));
        continue;
      }
      const failure = await done.then(() => undefined, (error: unknown) => error);
      if (failure instanceof BrandingError && failure.kind === 'held-elsewhere') heldElsewhere.push(jobId);
      else if (failure) logger.error({ err: failure, job: jobId }, 'resuming a branding job failed');
    }
    if (heldElsewhere.length && !stopping.signal.aborted) {
      // Should the process holding them die, its lease runs out within two slots: look again after one.
      clearTimeout(resumeTimer);
      resumeTimer = setTimeout(() => void resume(onProgress).catch((error: unknown) => logger.error({ err: error }, 'resuming branding jobs failed')), LEASE_SLOT_MS);
      resumeTimer.unref();
    }
    return { carriedOn, heldElsewhere };
  }

  return {
    start(input) {
      return guildLock.run(input.guildId, async () => {
        const active = await busy(input.guildId);
        if (active) refuseBusy(active);
        // Several processes: the in-process lock does not reach the others, so take a short lease too.
        if (coordination.distributed && !(await coordination.coordinator.shouldRun(`branding:start:${input.guildId}`, START_LEASE_MS))) {
          throw new BrandingError('push-running', {}, { variant: 'starting' });
        }
        const targets = [...new Set(input.targets ?? (await consent.members(input.guildId)))];
        if (targets.length === 0) throw new BrandingError('no-members');
        const job: PushJob = {
          id: randomUUID(),
          guildId: input.guildId,
          adminId: input.adminId,
          image: { hash: hashImage(input.image.data), format: input.image.format },
          label: input.label,
          createdAt: stamp(),
          targets,
          results: Object.fromEntries(targets.map((userId) => [userId, { status: 'pending', attempts: 0 } satisfies MemberResult])),
          state: 'running',
        };
        await jobs.create(job, input.image);
        await jobs.activate(input.guildId, job.id);
        logger.info({ job: job.id, guild: job.guildId, members: targets.length }, 'branding push created');
        return job.id;
      });
    },

    run: (jobId, onProgress) => launch(jobId, onProgress).done,
    resume,

    async status(guildId) {
      const { recent } = await jobs.guild(guildId);
      const found = await Promise.all(recent.map((jobId) => jobs.get(jobId)));
      return found.filter((job): job is PushJob => job !== undefined);
    },

    async revert(guildId, options = {}) {
      const jobId = await guildLock.run(guildId, async () => {
        const active = await busy(guildId);
        if (active) refuseBusy(active);
        const { recent } = await jobs.guild(guildId);
        const id = options.jobId ?? recent[0];
        const job = id !== undefined && recent.includes(id) ? await jobs.get(id) : undefined;
        if (!job) throw new BrandingError('no-push');
        if (job.state === 'reverted') throw new BrandingError('cannot-revert', { label: job.label });
        const changed = job.targets.filter((userId) => job.results[userId]?.status === 'done');
        const reverting: PushJob = {
          ...job,
          state: 'reverting',
          reverts: Object.fromEntries(changed.map((userId) => [userId, { status: 'pending', attempts: 0 } satisfies MemberResult])),
          ...(options.adminId ? { revertedBy: options.adminId } : {}),
        };
        await jobs.save(reverting);
        await jobs.activate(guildId, job.id);
        return job.id;
      });
      return launch(jobId, options.onProgress).done;
    },

    async stop() {
      stopping.abort();
      clearTimeout(resumeTimer);
      await Promise.allSettled([...running.values()].map((entry) => entry.done));
    },
  };
}
