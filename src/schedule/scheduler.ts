/**
 * Runs users' schedules. The engine says which image is due and when the next change is; node-cron does
 * the timing (one task per imminent change, in UTC, noOverlap, and in distributed mode with the run
 * coordinator when several processes share a Redis store); the avatar use case applies the image.
 *
 * Only changes due within `armWindowMs` hold a node-cron task; a minutely housekeeping task arms the
 * rest as they come near, so 10,000 users cost a map entry each, not 10,000 timers.
 * On start, and when a user edits a schedule, the bot applies what should be active now, once, instead
 * of replaying missed changes, and never uploads the image that is already applied.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { AccountError } from '../account-errors.js';
import { ChangeDeferred } from '../changes/pipeline.js';
import type { AppliedAvatar, AvatarChanges } from '../avatar-changes.js';
import type { Logger } from '../log.js';
import { LibraryError, type AvatarLibrary } from '../store/library.js';
import type { ScheduleRecord, ScheduleStore } from '../store/schedules.js';
import { VaultError } from '../store/vault.js';
import { XApiError } from '../x/errors.js';
import type { Coordination } from './coordination.js';
import { createKeyedLock } from '../keyed-lock.js';
import { activeImageAt, nextRotationImage, ruleOf, type Rule, type RotationSchedule } from './engine.js';
import { ruleWords } from '../i18n/schedule-words.js';
import type { TeamOverrides } from './teams.js';
import { createLimiter, type Limiter } from '../avatar/limiter.js';
import { rateLimitRetryAt } from '../x/rate-limit.js';
import { StoreError } from '../store/backend.js';
import { storedError, type ScheduleFailure } from './failures.js';
import { activeTeamSeason, notBeforeMs, plannedChange, teamImageKey, type Team } from './plan.js';

export type ScheduledNotice =
  /** `rule`: what changed it (a change recovered from a journal written before it was kept has only `label`). */
  | { kind: 'changed'; image: string; rule?: Rule; label: string; url400: string; data: Buffer; format: 'jpeg' | 'png' }
  | { kind: 'failed'; failure: ScheduleFailure };

export interface SchedulerClock {
  now(): number;
}

export interface SchedulerDeps {
  schedules: ScheduleStore;
  library: AvatarLibrary;
  avatars: AvatarChanges;
  coordination: Coordination;
  logger: Logger;
  /** Deliver a notice as the user's notify setting says; false when it could not be delivered. */
  notify(discordUserId: string, record: ScheduleRecord, notice: ScheduledNotice): Promise<boolean>;
  minIntervalMs: number;
  /** Tests move time forward; node-cron still fires on the real clock, shifted by the same amount. */
  clock?: SchedulerClock;
  armWindowMs?: number;
  /** Server-level seasons of the servers a member opted in to (team branding); none by default. */
  teams?: TeamOverrides;
  /** Whether the member is still in the server, checked before a team season changes them (as a push
   *  does; the bot's check withdraws the consent of a member who left). Everyone is, by default. */
  isMember?(guildId: string, userId: string): Promise<boolean>;
  /** Team-season uploads at once per server (BRANDING_CONCURRENCY, as pushes); 4 by default. */
  teamConcurrency?: number;
  /** Called when a scheduled change starts (due and start instants, on the scheduler's clock). */
  onFire?(discordUserId: string, dueMs: number, startedMs: number): void;
}

export interface CatchUp {
  users: number;
  armed: number;
}

export interface Scheduler {
  /** Start the minute housekeeping that arms the changes coming up. start() does it too; calling it
   *  before the gateway connects keeps its one-off cost (node-cron's first time-zone formatter, ~50 ms)
   *  away from the first commands. */
  armHousekeeping(): void;
  /** Restore every user's schedules: catch up (CATCH_UP_CONCURRENCY uploads at a time), then plan. Resolves
   *  when every user was caught up; the bot answers users meanwhile and does not wait for it. */
  start(): Promise<CatchUp>;
  /** The catch-up start() began (the same promise, so a second start() does not run another); undefined before. */
  readonly caughtUp: Promise<CatchUp> | undefined;
  /** A user's schedules changed: re-plan them in every process and apply what is due now. */
  refresh(discordUserId: string): Promise<void>;
  /** Scheduled changes finished after a restart are recorded and announced as if they had run here. */
  completeRecovered(changes: Pick<AvatarChanges, 'onRecovered'>): void;
  /** The next planned change for a user. */
  plannedAt(discordUserId: string): Date | undefined;
  readonly armed: number;
  stop(): Promise<void>;
}

const LEASE_MS = 10 * 60_000;
const TRANSIENT_RETRY_MS = 5 * 60_000;
/** Catch-up uploads to X at once. */
const CATCH_UP_CONCURRENCY = 32;
/** Users being caught up at once: a user's reads and journal writes happen outside the upload slots, so
 *  twice as many users as slots keep every slot uploading (with 32 users, ~70 ms of store work per change
 *  came between uploads: 1,000 uploads took 8.4 s instead of 6.25). */
const CATCH_UP_LANES = 2 * CATCH_UP_CONCURRENCY;
/** The catch-up gives the event loop a turn this often: users whose record needs nothing run without I/O,
 *  and a page of them would otherwise hold it (the bot answers interactions during a restore). */
const CATCH_UP_SLICE_MS = 10;

/** The catch-up's share of the event loop: when its slice is over, wait for the next turn. */
interface Pace {
  over(): boolean;
  breathe(): Promise<void>;
}

interface Plan {
  at: number;
  task?: ScheduledTask;
}

/** A node-cron pattern that matches one UTC instant (to the second). */
function patternFor(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
}

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { schedules, library, avatars, coordination, logger } = deps;
  const clock = deps.clock ?? { now: () => Date.now() };
  const armWindowMs = deps.armWindowMs ?? 10 * 60_000;
  const plans = new Map<string, Plan>();
  const isMember = deps.isMember ?? (async () => true);
  const teamConcurrency = deps.teamConcurrency ?? 4;
  /** Per server: a team season boundary reaches every opted-in member at the same second. */
  const teamUploads = new Map<string, Limiter>();
  async function teamUpload<T>(guildId: string, upload: () => Promise<T>): Promise<T> {
    let limiter = teamUploads.get(guildId);
    if (!limiter) teamUploads.set(guildId, (limiter = createLimiter(teamConcurrency)));
    try {
      return await limiter.run(upload);
    } finally {
      if (limiter.active === 0 && limiter.queued === 0) teamUploads.delete(guildId);
    }
  }
  /** A refresh while a change is running waits for it, so it sees what that change applied. */
  const userRuns = createKeyedLock();
  let housekeeping: ScheduledTask | undefined;
  let stopped = false;
  /** Users with a change completed by recovery: a catch-up that read their record before that looks again. */
  const recoveredFor = new Set<string>();
  /** While the catch-up runs: users synced, fired or recovered here since it began, whose listed record may be
   *  older than what that wrote, so the catch-up reads theirs again. */
  let touchedDuringCatchUp: Set<string> | undefined;
  const running = new Set<Promise<unknown>>();

  const track = <T>(work: Promise<T>): Promise<T> => {
    running.add(work);
    void work.finally(() => running.delete(work)).catch(() => undefined);
    return work;
  };

  function disarm(discordUserId: string): void {
    const plan = plans.get(discordUserId);
    if (plan?.task) void plan.task.destroy();
    plans.delete(discordUserId);
  }

  function arm(discordUserId: string, plan: Plan): void {
    if (plan.task || stopped) return;
    const dueMs = Math.ceil(plan.at / 1000) * 1000;
    const realMs = dueMs - (clock.now() - Date.now());
    const task = cron.schedule(
      patternFor(Math.max(realMs, Date.now() + 1000)),
      () => {
        void task.destroy();
        if (plans.get(discordUserId) === plan) plan.task = undefined;
        return track(fire(discordUserId, dueMs));
      },
      {
        name: `avatar:${discordUserId}:${dueMs}`,
        timezone: 'UTC',
        noOverlap: true,
        distributed: coordination.distributed,
        runCoordinator: coordination.coordinator,
        distributedLease: LEASE_MS,
        // A fire that starts late (a busy event loop) must still run, not wait a year for its next match.
        missedExecutionTolerance: 5 * 60_000,
        unref: true,
      },
    );
    // Another process was elected for this run: plan the change after it, as that process does.
    task.on('execution:skipped', () => {
      void task.destroy();
      if (plans.get(discordUserId) !== plan) return;
      plan.task = undefined;
      void track(schedules.get(discordUserId).then((record) => planNext(discordUserId, record)));
    });
    plan.task = task;
  }

  /** Set the user's next timer at `at`, arming it now when it is near. */
  function planAt(discordUserId: string, at: number | undefined): void {
    disarm(discordUserId);
    if (at === undefined || stopped) return;
    const plan: Plan = { at };
    plans.set(discordUserId, plan);
    if (at - clock.now() <= armWindowMs) arm(discordUserId, plan);
  }

  const teamsOf = async (discordUserId: string): Promise<Team[]> => (deps.teams ? deps.teams.forMember(discordUserId) : []);

  /** The next instant the member's avatar should change: their own schedules or a team season boundary. */
  async function planNext(discordUserId: string, record: ScheduleRecord, knownTeams?: Team[]): Promise<void> {
    const teams = knownTeams ?? (await teamsOf(discordUserId));
    planAt(discordUserId, plannedChange(record, teams, new Date(clock.now()), deps.minIntervalMs)?.at.getTime());
  }

  /** A random rotation picks its new image when it fires, once (the caller holds the run's lease). */
  async function pickRandom(discordUserId: string, record: ScheduleRecord): Promise<ScheduleRecord> {
    const due = activeImageAt(record, new Date(clock.now()));
    const sourceId = due.source && 'id' in due.source ? due.source.id : undefined;
    const rotation = record.schedules.find((schedule): schedule is RotationSchedule => schedule.kind === 'rotation' && schedule.id === sourceId && schedule.order === 'random');
    if (!rotation) return record;
    const current = record.rotationState?.[rotation.id]?.current ?? record.applied?.image;
    const image = nextRotationImage(rotation, current, Math.random);
    return schedules.update(discordUserId, (draft) => {
      draft.rotationState = { ...draft.rotationState, [rotation.id]: { current: image, lastChangedAt: new Date(clock.now()).toISOString() } };
    });
  }

  async function tell(discordUserId: string, record: ScheduleRecord, notice: ScheduledNotice): Promise<void> {
    let delivered = false;
    try {
      delivered = record.notify.mode === 'off' ? notice.kind === 'changed' : await deps.notify(discordUserId, record, notice);
    } catch (error) {
      logger.warn({ err: error, user: discordUserId }, 'could not notify about a scheduled change');
    }
    // A failure the user could not be told about waits for their next command.
    if (!delivered && notice.kind === 'failed') await schedules.update(discordUserId, (draft) => void (draft.pendingNotice = notice.failure));
  }

  async function recordFailure(discordUserId: string, failure: ScheduleFailure, change: (draft: ScheduleRecord) => void = () => {}): Promise<ScheduleRecord> {
    return schedules.update(discordUserId, (draft) => {
      draft.lastRun = { at: new Date(clock.now()).toISOString(), outcome: 'failed', detail: failure };
      change(draft);
    });
  }

  /** A scheduled change completed (here, or recovered after a restart): remember it and tell the user. */
  async function recordApplied(discordUserId: string, origin: { target: string; image: string; label: string; rule?: Rule }, applied: AppliedAvatar, dueMs?: number): Promise<void> {
    const record = await schedules.update(discordUserId, (draft) => {
      delete draft.retry;
      draft.applied = { image: origin.target, at: new Date(clock.now()).toISOString() };
      draft.lastRun = { at: draft.applied.at, outcome: 'applied', detail: origin.image };
    });
    logger.info({ user: discordUserId, image: origin.target, due: dueMs }, 'scheduled change applied');
    await tell(discordUserId, record, { kind: 'changed', image: origin.image, ...(origin.rule ? { rule: origin.rule } : {}), label: origin.label, url400: applied.user.profileImage.size400, ...applied.image });
  }

  /**
   * Apply what the schedules call for now, unless it is already applied. Runs one at a time per user in
   * this process (see `sync` and `fire`); across processes the transition lease below decides.
   */
  async function reconcile(
    discordUserId: string,
    trigger: { dueMs?: number; teams?: Team[]; accepted?: () => void; listed?: ScheduleRecord; uploadSlot?: Limiter },
  ): Promise<ScheduleRecord | void> {
    let record = trigger.listed ?? (await schedules.get(discordUserId));
    const now = clock.now();
    let teams = trigger.teams ?? (await teamsOf(discordUserId));
    let team = activeTeamSeason(teams, new Date(now));
    // A member who left the server is not changed by its team season (and the check withdraws their consent there).
    while (team && !(await isMember(team.guildId, discordUserId))) {
      const left = team.guildId;
      teams = teams.filter((candidate) => candidate.guildId !== left);
      team = activeTeamSeason(teams, new Date(now));
    }
    if (record.suspended || (!team && record.schedules.length === 0 && record.defaultImage === undefined)) return record;
    if (!team && trigger.dueMs !== undefined) record = await pickRandom(discordUserId, record);
    const active = activeImageAt(record, new Date(now));
    // What is applied is remembered by key: a team image is `team:<guild>/<name>`, a personal one its name.
    const target = team ? teamImageKey(team.guildId, team.image) : active.image;
    const imageOwner = team && deps.teams ? deps.teams.libraryOwner(team.guildId) : discordUserId;
    const imageName = team ? team.image : active.image;
    if (target === undefined || imageName === undefined || target === record.applied?.image) return record; // nothing to do: the caller plans with it
    // The catch-up's listed copy says what needs nothing (most users); whatever is done is decided on a fresh read.
    if (trigger.listed) return reconcile(discordUserId, { ...trigger, listed: undefined });

    // Protect the account from X's rate limits: the change waits for the minimum interval, and for a retry
    // after a 429 or X being down (a user's edit does not bring the retry forward).
    const notBefore = notBeforeMs(record, deps.minIntervalMs);
    if (now < notBefore) return planAt(discordUserId, notBefore);

    // One lease per transition (from what is applied, to the target), whoever attempts it: a timer fire in
    // one process and a catch-up in another that both see this transition upload once between them.
    const transition = `apply:${discordUserId}:${record.applied?.at ?? 'never'}:${record.lastRun?.at ?? 'never'}:${target}`;
    if (!(await coordination.coordinator.shouldRun(transition, LEASE_MS))) return;

    const rule: Rule = team ? { kind: 'team-season', from: team.season.from, to: team.season.to } : ruleOf(record, active.source);
    // English in the history and the journal (the notice is worded in the user's language from `rule`).
    const label = ruleWords('en-US', rule);
    let item;
    try {
      item = await library.require(imageOwner, imageName);
    } catch (error) {
      if (!(error instanceof LibraryError)) throw error;
      const failure: ScheduleFailure = { kind: team ? 'team-image-missing' : 'image-missing', rule, image: imageName };
      record = await recordFailure(discordUserId, failure, (draft) => {
        if (team) return;
        const schedule = draft.schedules.find((candidate) => candidate.id === (active.source as { id?: string } | undefined)?.id);
        if (schedule) schedule.paused = true;
      });
      return tell(discordUserId, record, { kind: 'failed', failure });
    }

    try {
      // A change to this target left by a restart is waited for, not uploaded again.
      const origin = { kind: 'schedule' as const, target, image: imageName, label, rule };
      const joined = avatars.pending(discordUserId, (candidate) => candidate.kind === 'schedule' && candidate.target === target);
      if (joined?.told) return void (await joined.final); // being recorded and told by the recovery: once
      // A recovered change that completed since the record was read above is recorded there now.
      if (!joined && recoveredFor.delete(discordUserId) && (await schedules.get(discordUserId)).applied?.image === target) return;
      // The team limiter's slot is held until X accepted the upload, not through X's processing wait.
      const begin = () => avatars.begin(discordUserId, item.image, team ? 'branding' : 'schedule', `${label}: ${imageName}`, origin, trigger.uploadSlot ? { uploadSlot: trigger.uploadSlot } : {});
      const started = joined ?? (team ? await teamUpload(team.guildId, begin) : await begin());
      trigger.accepted?.(); // X has the image: a catch-up lane may take the next user while X processes it
      const applied = await started.final;
      await recordApplied(discordUserId, origin, applied, trigger.dueMs);
    } catch (error) {
      if (error instanceof ChangeDeferred) return; // the next start completes and records it
      const revoked =
        error instanceof VaultError ||
        (error instanceof AccountError && error.kind === 'link-revoked') ||
        (error instanceof XApiError && error.kind === 'token-revoked');
      if (revoked) {
        const failure: ScheduleFailure = { kind: 'link-revoked' };
        record = await recordFailure(discordUserId, failure, (draft) => void (draft.suspended = { reason: 'link', at: new Date(clock.now()).toISOString() }));
        return tell(discordUserId, record, { kind: 'failed', failure });
      }
      if (error instanceof XApiError && error.kind === 'rate-limited') {
        const rateLimits = (record.retry?.rateLimits ?? 0) + 1;
        const retryAt = rateLimitRetryAt(error.resetAt, clock.now(), rateLimits);
        record = await recordFailure(discordUserId, { kind: 'rate-limited', error: storedError(error) }, (draft) => void (draft.retry = { at: new Date(retryAt).toISOString(), rateLimits }));
        return planAt(discordUserId, retryAt);
      }
      // A record that stayed locked (a change in flight, or the lease of a process that died, 15 s at most)
      // or a store outage is retried like X being unavailable.
      const storeFailed = error instanceof StoreError;
      const known = error instanceof XApiError || error instanceof AccountError || storeFailed;
      const failure: ScheduleFailure = { kind: 'change-failed', rule, image: imageName, ...(known ? { error: storedError(error) } : {}) };
      if (!(error instanceof XApiError)) logger.error({ err: error, user: discordUserId }, 'scheduled change failed');
      const previous = record.lastRun;
      const transient = (error instanceof XApiError && error.kind === 'transient') || storeFailed;
      const retryAt = clock.now() + TRANSIENT_RETRY_MS;
      record = await recordFailure(discordUserId, failure, (draft) => {
        if (transient) draft.retry = { at: new Date(retryAt).toISOString(), rateLimits: draft.retry?.rateLimits ?? 0 };
      });
      if (previous?.outcome !== 'failed') await tell(discordUserId, record, { kind: 'failed', failure }); // once, not at every retry
      if (transient) return planAt(discordUserId, retryAt);
    }
  }

  async function fire(discordUserId: string, dueMs: number): Promise<void> {
    touchedDuringCatchUp?.add(discordUserId);
    deps.onFire?.(discordUserId, dueMs, clock.now());
    try {
      await userRuns.run(discordUserId, () => reconcile(discordUserId, { dueMs }));
    } catch (error) {
      logger.error({ err: error, user: discordUserId }, 'scheduled run crashed');
    }
    if (plans.get(discordUserId)?.task) return; // reconcile planned a retry
    await planNext(discordUserId, await schedules.get(discordUserId));
  }

  /** A catch-up's run: `accepted` when X took the upload, `listed` the record as the catch-up's listing read it
   *  (used unless something here touched the user since), `uploadSlot` the catch-up's bound on uploads, `pace`
   *  its share of the event loop (checked right before each piece of CPU work: lanes interleave at every
   *  await, so a check any earlier let 64 lanes each run a user in one turn). */
  async function sync(
    discordUserId: string,
    catchUp?: { accepted: () => void; listed: ScheduleRecord | undefined; teams: Team[] | undefined; uploadSlot: Limiter; pace: Pace },
  ): Promise<void> {
    const paced = async () => {
      while (catchUp?.pace.over()) await catchUp.pace.breathe();
    };
    const listed = catchUp?.listed;
    let unchanged: ScheduleRecord | void = undefined;
    // Read once for the catch-up and the plan; the catch-up read every user's at its start, and a user touched
    // since is synced again after this with fresh reads.
    const known = touchedDuringCatchUp?.has(discordUserId) ? undefined : catchUp?.teams;
    const teams = known ?? (await teamsOf(discordUserId));
    try {
      unchanged = await userRuns.run(discordUserId, async () => {
        await paced();
        const fresh = listed === undefined || !touchedDuringCatchUp || touchedDuringCatchUp.has(discordUserId);
        return reconcile(discordUserId, { teams, ...(catchUp ? { accepted: catchUp.accepted, uploadSlot: catchUp.uploadSlot } : {}), ...(fresh ? {} : { listed }) });
      });
    } catch (error) {
      logger.error({ err: error, user: discordUserId }, 'catching up schedules failed');
    }
    if (plans.get(discordUserId)?.task && (plans.get(discordUserId)?.at ?? 0) > clock.now()) return;
    await paced();
    await planNext(discordUserId, unchanged ?? (await schedules.get(discordUserId)), teams);
  }

  /**
   * A fixed pool of lanes takes the next user as one finishes, so a slow user holds one lane, not the ones
   * behind it; a lane is free again once X accepted the user's upload, and the read of the final URL
   * finishes on its own. A lane holds one of the CATCH_UP_CONCURRENCY upload slots for the POST only. One user's failure is logged and skipped.
   * Records come a page at a time and each is read once: the listing's copy decides a user who needs
   * nothing (see `reconcile`), so 100,000 records cost 100 queries, not 100,100.
   */
  async function catchUpAll(): Promise<CatchUp> {
    let users = 0;
    touchedDuringCatchUp = new Set();
    const pages = schedules.pages();
    async function* listed() {
      for await (const page of pages) yield* page;
    }
    const entries = listed();
    const uploadSlot = createLimiter(CATCH_UP_CONCURRENCY);
    // Unreadable now (the store is failing): each user is read on their own, as a fire would.
    const teamsOfEveryone = deps.teams ? await deps.teams.everyMember().catch(() => () => undefined) : () => [];
    /** Users whose change X accepted and is processing: they finish without holding a lane. */
    const finishing = new Set<Promise<void>>();
    let sliceStarted = performance.now();
    /** One turn of the event loop for every lane at once: lanes resumed one by one would each take a slice
     *  in the same turn (32 x 20 ms, seen as 400 ms without a timer running). */
    let turn: Promise<void> | undefined;
    const breathe = () =>
      (turn ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        sliceStarted = performance.now();
        turn = undefined;
      }));
    const pace: Pace = { over: () => performance.now() - sliceStarted > CATCH_UP_SLICE_MS, breathe };
    const lane = async () => {
      while (!stopped) {
        if (performance.now() - sliceStarted > CATCH_UP_SLICE_MS) await breathe();
        const next = await entries.next();
        if (next.done) return;
        const [discordUserId, record] = next.value;
        users++;
        let accepted: () => void = () => {};
        const uploaded = new Promise<void>((resolve) => (accepted = resolve));
        const run = sync(discordUserId, { accepted, listed: record, teams: teamsOfEveryone(discordUserId), uploadSlot, pace }).catch((error: unknown) => logger.error({ err: error, user: discordUserId }, 'catching up schedules failed'));
        finishing.add(run);
        void run.then(() => finishing.delete(run));
        await Promise.race([run, uploaded]);
      }
    };
    try {
      await Promise.all(Array.from({ length: CATCH_UP_LANES }, lane));
      await Promise.allSettled(finishing);
    } finally {
      touchedDuringCatchUp = undefined;
      await entries.return(undefined);
    }
    return { users, armed: [...plans.values()].filter((plan) => plan.task).length };
  }
  let caughtUp: Promise<CatchUp> | undefined;

  coordination.subscribe((discordUserId) => {
    touchedDuringCatchUp?.add(discordUserId);
    if (!stopped) void track(sync(discordUserId));
  });

  function armHousekeeping(): void {
    housekeeping ??= cron.schedule(
      '* * * * *',
      () => {
        for (const [discordUserId, plan] of plans) if (!plan.task && plan.at - clock.now() <= armWindowMs) arm(discordUserId, plan);
      },
      { name: 'avatar:housekeeping', noOverlap: true, unref: true },
    );
  }

  return {
    armHousekeeping,
    start() {
      // Armed from the start, so changes planned by users' edits during a long catch-up are armed too.
      armHousekeeping();
      caughtUp ??= track(catchUpAll());
      return caughtUp;
    },

    get caughtUp() {
      return caughtUp;
    },

    async refresh(discordUserId) {
      await coordination.publish(discordUserId);
    },

    completeRecovered(changes) {
      changes.onRecovered('schedule', async (change, applied) => {
        if (change.origin.kind !== 'schedule') return;
        touchedDuringCatchUp?.add(change.userId);
        await recordApplied(change.userId, change.origin, applied);
        recoveredFor.add(change.userId);
      });
    },

    plannedAt: (discordUserId) => {
      const plan = plans.get(discordUserId);
      return plan ? new Date(plan.at) : undefined;
    },

    get armed() {
      return [...plans.values()].filter((plan) => plan.task).length;
    },

    async stop() {
      stopped = true;
      if (housekeeping) await housekeeping.destroy();
      for (const discordUserId of [...plans.keys()]) disarm(discordUserId);
      await Promise.allSettled([...running]);
    },
  };
}
