/**
 * A push's life: created (one per server at a time), run in this process or carried on after a restart
 * (a lease says which process runs it), looked at, reverted, and stopped with the process. The members'
 * work is the worker pool's (pool.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { createKeyedLock } from '../coordination/keyed-lock.js';
import type { Coordination } from '../coordination/runs.js';
import { hashImage, type StoredImage } from '../avatar/history.js';
import type { ConsentStore } from './consent.js';
import { BrandingError } from './errors.js';
import type { JobStore, MemberResult, Phase, PushJob } from './jobs.js';
import { LEASE_SLOT_MS, takeLease, type Lease } from '../coordination/lease.js';
import { counts, type ProgressListener, type PushProgress } from './progress.js';
import type { PushRunner } from './push.js';

const START_LEASE_MS = 5_000;
/** How often an asking job looks at its deadline: a timer only (no store read), and a moved clock is seen within it. */
const ASK_TICK_MS = 1_000;

export interface LifecycleDeps {
  jobs: JobStore;
  consent: ConsentStore;
  coordination: Coordination;
  logger: Logger;
  clock: { now(): number };
  /** Waits; settles early when the signal aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** Store locks (answers and the end of asking exclude each other, across processes). */
  locked<T>(key: string, work: () => Promise<T>): Promise<T>;
  runPhase(job: PushJob, phase: Phase, lease: Lease, listeners: Set<ProgressListener>): Promise<boolean>;
  /** Aborted by stop(); the pool stops taking members too. */
  stopping: AbortController;
  /** Sharded: resume() carries on only the jobs of this process's servers (their log channel and names are here). */
  ownsGuild?(guildId: string): boolean;
}

export function createLifecycle(deps: LifecycleDeps): PushRunner {
  const { jobs, consent, coordination, logger, clock, runPhase, stopping, sleep } = deps;
  const askLock = <T>(jobId: string, work: () => Promise<T>) => deps.locked(`branding-ask:${jobId}`, work);
  const guildLock = createKeyedLock();
  const stamp = () => new Date(clock.now()).toISOString();
  /** Jobs this process is working on, with who wants their progress. */
  const running = new Map<string, { done: Promise<PushJob>; listeners: Set<ProgressListener> }>();
  let resumeTimer: NodeJS.Timeout | undefined;

  async function busy(guildId: string): Promise<PushJob | undefined> {
    const { active } = await jobs.guild(guildId);
    const job = active === undefined ? undefined : await jobs.get(active);
    return job && (job.state === 'running' || job.state === 'reverting' || job.state === 'asking') ? job : undefined;
  }

  function refuseBusy(job: PushJob): never {
    const { done, failed, skipped, total } = counts(job, job.state === 'running' ? 'push' : 'revert');
    throw new BrandingError('push-running', { label: job.label, finished: done + failed + skipped, total }, { variant: job.state === 'reverting' ? 'reverting' : 'pushing' });
  }

  type Claim = { job: PushJob; phase: Phase; lease: Lease };

  /** The job with its lease, or the job as it is when there is nothing left to run. */
  async function claim(jobId: string): Promise<Claim | PushJob> {
    const job = await jobs.get(jobId);
    if (!job) throw new BrandingError('no-push', {}, { variant: 'gone' });
    if (job.state !== 'running' && job.state !== 'reverting' && job.state !== 'asking') {
      await guildLock.run(job.guildId, () => jobs.deactivate(job.guildId, job.id)); // finished just before a restart
      return job;
    }
    const phase: Phase = job.state === 'reverting' ? 'revert' : 'push';
    const lease = await takeLease(coordination, `branding:${job.guildId}:${job.id}:${phase}`);
    if (!lease) throw new BrandingError('held-elsewhere');
    return { job, phase, lease };
  }

  /** Ask mode: waits for the deadline (its time is the job's, so a restart keeps it), then only the approved
   *  members stay pending; the others are skipped as declined or unanswered. Undefined when stopped first. */
  async function endAsking(asking: PushJob, lease: Lease): Promise<PushJob | undefined> {
    const deadline = Date.parse(asking.deadline ?? asking.createdAt);
    while (clock.now() < deadline) {
      if (stopping.signal.aborted) return undefined;
      await sleep(Math.min(ASK_TICK_MS, deadline - clock.now()), stopping.signal);
    }
    if (stopping.signal.aborted || !(await lease.held())) return undefined;
    return askLock(asking.id, async () => {
      const job = await jobs.get(asking.id);
      if (!job || job.state !== 'asking') return job;
      const at = stamp();
      const results = Object.fromEntries(
        job.targets.map((userId) => {
          const { answer, asked: _asked, ...result } = job.results[userId] ?? { status: 'pending', attempts: 0 };
          if (answer === 'approved') return [userId, result];
          return [userId, { ...result, status: 'skipped', kind: answer === 'declined' ? 'declined' : 'no-answer', at } satisfies MemberResult];
        }),
      );
      const running: PushJob = { ...job, results, state: 'running' };
      await jobs.finishPhase(running, 'push'); // the answers are folded in; the push's results start from here
      logger.info({ job: job.id, guild: job.guildId, ...counts(running, 'push') }, 'branding job stopped asking');
      return running;
    });
  }

  async function carryOn(claimed: Claim, listeners: Set<ProgressListener>): Promise<PushJob> {
    const { phase, lease } = claimed;
    let { job } = claimed;
    try {
      if (job.state === 'asking') {
        const asked = await endAsking(job, lease);
        if (!asked) return (await jobs.get(job.id)) ?? job;
        job = asked;
        if (job.state !== 'running') return job;
      }
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
      if (!job || deps.ownsGuild?.(job.guildId) === false) continue;
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
    async ask(jobId, send) {
      const job = await jobs.get(jobId);
      if (!job || job.state !== 'asking') return 0;
      let asked = 0;
      for (const userId of job.targets) {
        if (stopping.signal.aborted || clock.now() >= Date.parse(job.deadline ?? job.createdAt)) break;
        // Marked before it is sent: a restart in between loses one question rather than sending it twice.
        const marked = await askLock(jobId, async () => {
          const { job: current, result } = (await jobs.member(jobId, userId)) ?? {};
          if (!current || current.state !== 'asking' || !result || result.asked) return false;
          await jobs.setResult(jobId, 'push', userId, { ...result, asked: true });
          return true;
        });
        if (!marked) continue;
        await send(userId, job).then(
          () => asked++,
          (error: unknown) => logger.warn({ err: error, job: jobId, user: userId }, 'could not ask a member'),
        );
      }
      return asked;
    },

    answer: (jobId, userId, answer) =>
      askLock(jobId, async () => {
        const { job, result } = (await jobs.member(jobId, userId)) ?? {};
        if (!job || !result) return 'gone';
        if (job.state !== 'asking' || clock.now() >= Date.parse(job.deadline ?? job.createdAt)) return 'too-late';
        await jobs.setResult(jobId, 'push', userId, { ...result, answer });
        return answer;
      }),

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
        const { kit, image } = input;
        if (!kit === !image) throw new TypeError('a push takes an image or a kit');
        const ask = input.mode === 'ask';
        const imageOf = (stored: StoredImage) => ({ hash: hashImage(stored.data), format: stored.format });
        const job: PushJob = {
          id: randomUUID(),
          guildId: input.guildId,
          adminId: input.adminId,
          ...(image ? { image: imageOf(image) } : {}),
          ...(kit
            ? {
                kit: {
                  name: kit.name,
                  ...(kit.images.avatar ? { avatar: imageOf(kit.images.avatar) } : {}),
                  ...(kit.images.banner ? { banner: imageOf(kit.images.banner) } : {}),
                  ...(kit.nameTemplate !== undefined ? { nameTemplate: kit.nameTemplate } : {}),
                  ...(kit.bioTemplate !== undefined ? { bioTemplate: kit.bioTemplate } : {}),
                },
              }
            : {}),
          ...(ask ? { mode: 'ask' as const, deadline: new Date(clock.now() + (input.askForMs ?? 0)).toISOString() } : {}),
          label: input.label,
          createdAt: stamp(),
          targets,
          results: Object.fromEntries(targets.map((userId) => [userId, { status: 'pending', attempts: 0 } satisfies MemberResult])),
          state: ask ? 'asking' : 'running',
        };
        await jobs.create(job, image ? { avatar: image } : { ...kit!.images });
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
