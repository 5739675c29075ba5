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
 * - A kit push (kit-members.ts) changes, per member, only the parts they allowed, one recorded change each,
 *   and its revert restores each part the push changed where the push's entry is still on top.
 * - Ask mode: the job asks (state `asking`, persisted with its deadline) and runs at the deadline for the
 *   members who approved; the others are reported as declined or unanswered.
 *
 * By job: lifecycle.ts (create, run, resume, stop, revert), pool.ts (the prepare stage and the upload
 * slots), members.ts (who a push reaches, consent and membership, why a member is skipped or failed),
 * progress.ts, errors.ts. This factory only wires them.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { AvatarChanges } from '../avatar/changes.js';
import type { Logger } from '../log.js';
import type { Coordination } from '../coordination/runs.js';
import type { Store } from '../store/backend.js';
import type { StoredImage } from '../avatar/history.js';
import { RATE_LIMIT_MIN_WAIT_MS } from '../x/rate-limit.js';
import type { ConsentStore } from './consent.js';
import { createJobStore, type PushJob, type PushMode } from './jobs.js';
import type { Kit } from '../library/store.js';
import type { Kits } from '../profile/kits.js';
import { createLifecycle } from './lifecycle.js';
import { createWorkerPool, type PoolDeps } from './pool.js';
import type { ProgressListener, PushProgress } from './progress.js';

export type { MemberResult, MemberStatus, PartResult, PushJob, PushMode, PushState } from './jobs.js';
export { BRANDING_ERROR_KINDS, BrandingError, type BrandingErrorKind } from './errors.js';
export { counts, describeProgress, PROGRESS_EVERY_MS, type ProgressListener, type PushProgress } from './progress.js';

export const DEFAULT_BRANDING_CONCURRENCY = 4;

export interface PushInput {
  guildId: string;
  adminId: string;
  /** Already normalised by the caller (once); stored once for the whole job. An image push sets the avatar. */
  image?: StoredImage;
  /** A kit push (instead of an image): each member gets the parts of it they allowed, templates filled with their own values. */
  kit?: Kit;
  /** `ask`: the job asks every member first (see PushRunner.ask) and changes only those who approve in time. */
  mode?: PushMode;
  /** Ask mode: how long members have to answer. */
  askForMs?: number;
  label: string;
  /** Defaults to every member who opted in; each is checked again before their upload. */
  targets?: string[];
}

export interface PushRunnerDeps {
  store: Store;
  avatars: AvatarChanges;
  consent: ConsentStore;
  /** Fills a kit's templates with each member's own values (a kit push). */
  kits?: Pick<Kits, 'valuesFor'>;
  coordination: Coordination;
  logger: Logger;
  /** Members uploaded at once (BRANDING_CONCURRENCY, 4 by default). */
  concurrency?: number;
  clock?: { now(): number };
  /** Waits; must settle early (resolve or reject) when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** Whether the user is still in the guild; everyone is by default. */
  isMember?(guildId: string, userId: string): Promise<boolean>;
  /** Sharded: which servers' interrupted jobs resume() carries on here (default all). */
  ownsGuild?(guildId: string): boolean;
  /** First backoff after a transient failure; doubles at each retry (2 s by default). */
  transientRetryMs?: number;
  /** First wait after a 429, even when X's reset is sooner; doubles at each 429 (60 s by default). */
  rateLimitWaitMs?: number;
  metrics?: PoolDeps['metrics'];
  writeBudget?: PoolDeps['writeBudget'];
}

export type AskAnswer = 'approved' | 'declined';

export interface PushRunner {
  /** Create the job and make it the guild's active push; throws BrandingError('push-running') when one runs
   *  (or asks). An ask-mode job asks until its deadline, then runs for the members who approved. */
  start(input: PushInput): Promise<string>;
  /** Ask mode: `send` the question to every member of the job not asked yet (each once, even across a
   *  restart: marked before it is sent); returns how many were sent. */
  ask(jobId: string, send: (userId: string, job: PushJob) => Promise<void>): Promise<number>;
  /** A member's answer, kept until the deadline; 'too-late' once it passed, 'gone' for an unknown job or member. */
  answer(jobId: string, userId: string, answer: AskAnswer): Promise<AskAnswer | 'too-late' | 'gone'>;
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

/** Wires the job store, the worker pool and the job lifecycle; the work is theirs. */
export function createPushRunner(deps: PushRunnerDeps): PushRunner {
  const jobs = createJobStore(deps.store);
  const concurrency = deps.concurrency ?? DEFAULT_BRANDING_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`branding concurrency must be a positive integer, got ${concurrency}`);
  const clock = deps.clock ?? { now: () => Date.now() };
  const stopping = new AbortController();
  const sleep = deps.sleep ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined));
  const { runPhase } = createWorkerPool({
    jobs,
    avatars: deps.avatars,
    consent: deps.consent,
    logger: deps.logger,
    concurrency,
    clock,
    sleep,
    isMember: deps.isMember ?? (async () => true),
    kits: deps.kits ?? { valuesFor: () => Promise.reject(new Error('this push runner has no kits')) },
    transientRetryMs: deps.transientRetryMs ?? 2_000,
    rateLimitWaitMs: deps.rateLimitWaitMs ?? RATE_LIMIT_MIN_WAIT_MS,
    stopping: stopping.signal,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.writeBudget ? { writeBudget: deps.writeBudget } : {}),
  });
  return createLifecycle({ jobs, consent: deps.consent, coordination: deps.coordination, logger: deps.logger, clock, sleep, locked: (key, work) => deps.store.locked(key, work), runPhase, stopping, ...(deps.ownsGuild ? { ownsGuild: deps.ownsGuild } : {}) });
}
