/**
 * The worker pool of a push or a revert: the prepare stage (a member's checks, and their original saved
 * ahead of the uploads by a bounded number of members) and the upload slots (a slot held while the member's
 * change is recorded and their upload talks to X, not during X's processing wait). Each member's outcome is
 * stored the moment it is known; a rate-limited or transient failure waits and is tried again.
 */
import type { AvatarChanges, PreparedChange } from '../avatar/changes.js';
import type { AppliedChange } from '../changes/pipeline.js';
import { ChangeDeferred } from '../changes/pipeline.js';
import type { Logger } from '../log.js';
import type { StoredImage } from '../avatar/history.js';
import { heldBackByBot, rateLimitRetryAt } from '../x/rate-limit.js';
import type { WriteBudget } from '../x/budget.js';
import type { ConsentStore } from './consent.js';
import type { JobStore, MemberResult, Phase, PushJob } from './jobs.js';
import type { Lease } from '../coordination/lease.js';
import type { Metrics } from '../metrics.js';
import { classify, stillReached, type Attempt } from './members.js';
import { createKitMembers, type KitWork, type RecordAttempt } from './kit-members.js';
import type { Kits } from '../profile/kits.js';
import type { Kit } from '../library/store.js';
import { counts, PROGRESS_EVERY_MS, type ProgressListener, type PushProgress } from './progress.js';

/** Our own retries of a transient failure, on top of the X client's three quick ones. */
const TRANSIENT_RETRIES = 3;
const RATE_LIMIT_RETRIES = 5;
/** The longest nap of a worker while a member waits for X's breaker (issue 12), in ms. */
const APP_BLOCKED_NAP_MS = 1_000;
/** Members prepared at once, per upload slot. */
const PREPARE_PER_SLOT = 2;
/** Members prepared (or being prepared) and not yet uploaded, per upload slot: what the prepare stage keeps in memory. */
const LOOKAHEAD_PER_SLOT = 3;

export interface PoolDeps {
  jobs: JobStore;
  avatars: AvatarChanges;
  consent: ConsentStore;
  logger: Logger;
  /** Members uploaded at once. */
  concurrency: number;
  clock: { now(): number };
  sleep: (ms: number, signal: AbortSignal) => Promise<unknown>;
  isMember(guildId: string, userId: string): Promise<boolean>;
  /** Fills a kit's templates with each member's own values. */
  kits: Pick<Kits, 'valuesFor'>;
  transientRetryMs: number;
  rateLimitWaitMs: number;
  /** Aborted when the runner stops: take no more members. */
  stopping: AbortSignal;
  metrics?: Pick<Metrics, 'pushRunning' | 'pushMember'>;
  /** X_DAILY_WRITE_BUDGET, when set: the progress shows when the push finishes under it. */
  writeBudget?: Pick<WriteBudget, 'pushFinishAt'>;
}

/** Work through the phase's pending members; `runPhase` returns whether it got to the end. */
export function createWorkerPool(deps: PoolDeps): { runPhase(job: PushJob, phase: Phase, lease: Lease, listeners: Set<ProgressListener>): Promise<boolean> } {
  const { jobs, avatars, consent, logger, concurrency, clock, sleep, isMember, transientRetryMs, rateLimitWaitMs, stopping } = deps;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`branding concurrency must be a positive integer, got ${concurrency}`);
  // The prepare stage runs beside the slots. In the 500-member bench (X: reads 50 ms, downloads 50 ms, uploads
  // 200 ms) a member took 225-320 ms to prepare (checks, verify_credentials, download, sharp, store) against
  // 280-370 ms of slot time: one preparation per slot starved the slots whenever it ran slow, so two per slot.
  // The lookahead must exceed the preparations at once, or nothing prepared could wait for a slot.
  const prepareConcurrency = concurrency * PREPARE_PER_SLOT;
  const lookahead = concurrency * LOOKAHEAD_PER_SLOT;
  const stamp = () => new Date(clock.now()).toISOString();
  const kitMembers = createKitMembers({ avatars, consent, kits: deps.kits, isMember, logger, stamp });

  type Outcome = MemberResult | { later: Promise<MemberResult> };

  /** A change of this job to the member left by a restart, still in progress: wait for it, do not upload again. */
  const leftOver = (job: PushJob, userId: string, phase: Phase) =>
    avatars.pending(userId, (origin) => origin.kind === 'push' && origin.jobId === job.id && origin.phase === phase);

  /** A member the prepare stage found to need an upload: the attempt it recorded, and (a push) their original saved ahead. */
  type Staged = { attempt: MemberResult; prepared?: PreparedChange; kit?: KitWork };
  /** Stores the attempt before X is touched: what to restore, and that an upload was tried. */

  const pushFinished = (attempts: number, previous: string, applied: AppliedChange): MemberResult => {
    const done: MemberResult = { status: 'done', attempts, at: stamp(), url400: applied.user.profileImage.size400, previous };
    return applied.entry ? { ...done, entryId: applied.entry.id } : done;
  };

  /** The prepare stage of a push (no upload slot held): the checks, then the member's original saved if they have none. */
  async function preparePush(job: PushJob, userId: string, before: MemberResult, record: RecordAttempt): Promise<Outcome | { upload: Staged }> {
    const at = stamp();
    const joined = leftOver(job, userId, 'push');
    if (joined) return { later: joined.final.then((applied) => pushFinished(before.attempts, before.previous ?? 'original', applied)) };
    // Read together: these are independent.
    const [reached, { entries }] = await Promise.all([stillReached(consent, isMember, job.guildId, userId), avatars.history(userId)]);
    if ('skip' in reached) return { ...before, status: 'skipped', kind: reached.skip, at };
    if (!reached.allowed.includes('avatar')) return { ...before, status: 'skipped', kind: 'part-not-allowed', at };
    const last = entries.at(-1);
    if (before.previous !== undefined && last && last.id !== before.previous && last.hash === job.image?.hash && last.source === 'branding') {
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

  const revertFinished = (attempts: number, applied: AppliedChange): MemberResult => ({ status: 'done', attempts, at: stamp(), url400: applied.user.profileImage.size400 });

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


  /** A kit push's kit, its images as stored with the job. */
  async function kitOf(job: PushJob): Promise<Kit> {
    const { name, nameTemplate, bioTemplate } = job.kit!;
    const [avatar, banner] = await Promise.all([job.kit!.avatar ? jobs.image(job.id) : undefined, job.kit!.banner ? jobs.image(job.id, 'banner') : undefined]);
    if ((job.kit!.avatar && !avatar) || (job.kit!.banner && !banner)) throw new Error(`the images of branding job ${job.id} are gone`);
    return { name, addedAt: job.createdAt, ...(nameTemplate !== undefined ? { nameTemplate } : {}), ...(bioTemplate !== undefined ? { bioTemplate } : {}), images: { ...(avatar ? { avatar } : {}), ...(banner ? { banner } : {}) } };
  }

  /** Work through the phase's pending members with the worker pool; returns whether it got to the end. */
  async function runPhase(job: PushJob, phase: Phase, lease: Lease, listeners: Set<ProgressListener>): Promise<boolean> {
    const image = phase === 'push' && !job.kit ? await jobs.image(job.id) : undefined;
    if (phase === 'push' && !job.kit && !image) throw new Error(`the image of branding job ${job.id} is gone`);
    const kit = phase === 'push' && job.kit ? await kitOf(job) : undefined;
    const results = phase === 'push' ? job.results : (job.reverts ??= {});
    const members = phase === 'push' ? job.targets : Object.keys(results);
    const ready = members.filter((userId) => results[userId]?.status === 'pending');
    const waiting = new Map<string, number>(); // member → when to try again
    const retries = new Map<string, number>();
    const blockedWaits = new Set<string>(); // members in `waiting` for X's breaker
    const stopHere = new AbortController();
    const abort = () => stopHere.abort();
    stopping.addEventListener('abort', abort);
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
      // Under a daily write budget: each member left is one write per part (an image push: one).
      const writes = (total - done - failed - skipped) * (job.kit ? [job.kit.avatar, job.kit.banner, job.kit.nameTemplate, job.kit.bioTemplate].filter((part) => part !== undefined).length : 1);
      const budgetFinishAt = writes > 0 ? deps.writeBudget?.pushFinishAt(writes) : undefined;
      return { phase, done, failed, skipped, total, etaSeconds, ...(budgetFinishAt === undefined ? {} : { budgetFinishAt }) };
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
      // Held back by the bot's write budget: nothing reached X, so the member waits for the instant named, as often as it takes.
      if (retry === 'rate-limited' && heldBackByBot(error)) return { result: { ...base, status: 'pending' }, retryAt: rateLimitRetryAt(new Date(failedUntil ?? clock.now()), clock.now(), 1, 0) };
      if (retry === 'app-blocked') {
        // Not the member's failure: pending, no retry used up, tried again at the breaker's next probe.
        blockedWaits.add(userId);
        return { result: { ...base, status: 'pending' }, retryAt: Math.max(failedUntil ?? 0, clock.now() + 1_000) };
      }
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
        if (job.kit) {
          const kitFound = phase === 'push' ? await kitMembers.preparePush(job, kit!, userId, before, record) : await kitMembers.prepareRevert(job, userId, before, record);
          found = 'upload' in kitFound ? { upload: { attempt: kitFound.attempt, kit: kitFound.upload } } : kitFound;
        } else found = phase === 'push' ? await preparePush(job, userId, before, record) : await prepareRevert(job, userId, before, record);
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
        if (member.kit) outcome = await (phase === 'push' ? kitMembers.uploadPush : kitMembers.uploadRevert)(job, userId, member.attempt, member.kit);
        else outcome = phase === 'push' ? await uploadPush(job, image!, userId, member) : await uploadRevert(job, userId, member);
      } catch (error) {
        await conclude(userId, await settle(userId, results[userId] ?? before, error));
        return {};
      }
      return follow(userId, before, outcome);
    }

    async function conclude(userId: string, outcome: Attempt): Promise<void> {
      results[userId] = outcome.result;
      await jobs.setResult(job.id, phase, userId, outcome.result);
      if (outcome.result.status !== 'pending') deps.metrics?.pushMember(phase, outcome.result.status);
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
          blockedWaits.delete(userId);
          ready.push(userId);
        }
        prepareAhead();
        const member = staged.shift();
        if (member === undefined) {
          if (ready.length === 0 && waiting.size === 0 && inFlight === 0) return signal(); // nothing left: let the others see it too
          // At most APP_BLOCKED_NAP_MS at once while a member waits for X's breaker: the wait is on `clock`,
          // which a test (or a suspended machine) may move on; waking costs one comparison.
          const soonest = waiting.size ? Math.min(...waiting.values()) - now : undefined;
          const next = soonest !== undefined && blockedWaits.size > 0 ? Math.min(soonest, APP_BLOCKED_NAP_MS) : soonest;
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
    const stopRunning = deps.metrics?.pushRunning(phase);
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ready.length)) }, () => worker()));
      await Promise.allSettled([...preparations]);
      // Stopped (or halted) with members prepared and not uploaded: they stay pending, and the originals saved
      // for them go, as they would had X refused the upload.
      for (const { userId, prepared, kit: work } of staged.splice(0)) {
        await prepared?.discard().catch((error: unknown) => logger.warn({ err: error, job: job.id, user: userId }, 'could not drop an original saved ahead'));
        if (work) await kitMembers.discard(work, userId);
      }
      await Promise.allSettled([...tails]); // a stop lets accepted uploads finish and be recorded
    } finally {
      stopping.removeEventListener('abort', abort);
      stopHere.abort();
      stopRunning?.();
    }
    const finished = !halted && !stopping.aborted && members.every((userId) => results[userId]?.status !== 'pending');
    report(true);
    return finished;
  }

  return { runPhase };
}
