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
import { avatarOf } from '../avatar/changes.js';
import type { AvatarChanges, PartValues } from '../avatar/changes.js';
import type { Logger } from '../log.js';
import type { AvatarLibrary } from '../library/store.js';
import type { ScheduleRecord, ScheduleStore } from './store.js';
import type { Coordination } from '../coordination/runs.js';
import { createKeyedLock } from '../coordination/keyed-lock.js';
import type { Rule } from './engine.js';
import type { TeamOverrides } from './teams.js';
import { catchUpAll, type CatchUpRun } from './catch-up.js';
import { createReconciler } from './reconcile.js';
import { createTimers, retryAfterStoreFailure } from './timers.js';
import { StoreError } from '../store/backend.js';
import type { ScheduleFailure } from './failures.js';
import { plannedChange, spreadOffsetMs, type Team } from './plan.js';
import type { Kit } from '../library/store.js';
import type { ProfilePart } from '../profile/parts.js';
import type { XUser } from '../x/client.js';

export type ScheduledNotice =
  /** `rule`: what changed it (a change recovered from a journal written before it was kept has only `label`). */
  /** The avatar's image and URL when the change set the avatar; `parts` for a kit, or parts restored after one. */
  | { kind: 'changed'; image: string; rule?: Rule; label: string; url400?: string; data?: Buffer; format?: 'jpeg' | 'png'; parts?: NoticeParts }
  | { kind: 'failed'; failure: ScheduleFailure };

/** Which parts a change of several made: the target's (`kit`: a kit's), and those restored as they were before a kit. */
export interface NoticeParts {
  kit: boolean;
  changed: ProfilePart[];
  restored: ProfilePart[];
}

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
  /** SCHEDULE_SPREAD_S in ms: changes due at the same instant are spread over this window, each user at
   *  their own offset in it (plan.ts `spreadOffsetMs`); 0 (the default here) spreads nothing. */
  spreadMs?: number;
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
  /** For kits: the values a kit gives the user (templates filled), and their profile as X shows it. */
  profiles?: { valuesFor(discordUserId: string, kit: Kit, current?: XUser): Promise<PartValues>; read(discordUserId: string): Promise<XUser> };
  /** Called when a scheduled change starts (due and start instants, on the scheduler's clock). */
  onFire?(discordUserId: string, dueMs: number, startedMs: number): void;
  /** Called when the catch-up makes a change (X accepted its upload). */
  onCatchUpChange?(): void;
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
  /**
   * Change a user's record and re-plan at once: the one way an edge changes schedules (a command, a team
   * season, consent, a new link). Without `change`, the record is written as it is (a member of a team season
   * gets one, so the restore finds them). Returns the record as written.
   */
  edit(discordUserId: string, change?: (draft: ScheduleRecord) => void): Promise<ScheduleRecord>;
  /** Scheduled changes finished after a restart are recorded and announced as if they had run here. */
  completeRecovered(changes: Pick<AvatarChanges, 'onRecovered'>): void;
  /** The next planned change for a user. */
  plannedAt(discordUserId: string): Date | undefined;
  readonly armed: number;
  stop(): Promise<void>;
}

/** The factory wires the jobs: timers (./timers.ts), one user's rules (./reconcile.ts), the catch-up (./catch-up.ts). */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { schedules, coordination, logger } = deps;
  const clock = deps.clock ?? { now: () => Date.now() };
  /** A refresh while a change is running waits for it, so it sees what that change applied. */
  const userRuns = createKeyedLock();
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

  const timers = createTimers({
    clock,
    armWindowMs: deps.armWindowMs ?? 10 * 60_000,
    coordination,
    fire: (discordUserId, dueMs) => track(fire(discordUserId, dueMs)),
    skipped: (discordUserId) => void track(schedules.get(discordUserId).then((record) => planNext(discordUserId, record))),
  });
  const offsetOf = (discordUserId: string) => spreadOffsetMs(discordUserId, deps.spreadMs ?? 0);
  const { reconcile, recordApplied, teamsOf } = createReconciler({ ...deps, clock, planAt: timers.planAt, recoveredFor, offsetOf });

  /** The next instant the member's avatar should change: their own schedules or a team season boundary. */
  async function planNext(discordUserId: string, record: ScheduleRecord, knownTeams?: Team[]): Promise<void> {
    const teams = knownTeams ?? (await teamsOf(discordUserId));
    timers.planAt(discordUserId, plannedChange(record, teams, new Date(clock.now()), deps.minIntervalMs, offsetOf(discordUserId))?.at.getTime());
  }

  async function fire(discordUserId: string, dueMs: number): Promise<void> {
    touchedDuringCatchUp?.add(discordUserId);
    deps.onFire?.(discordUserId, dueMs, clock.now());
    try {
      await userRuns.run(discordUserId, () => reconcile(discordUserId, { dueMs }));
    } catch (error) {
      logger.error({ err: error, user: discordUserId }, 'scheduled run crashed');
      // The store failed before the change began (its record, or the run's lease, could not be read in time):
      // the run is tried again shortly. Planning the rule's next instant instead dropped the change until then
      // (38 of 1,000 changes, two processes on PostgreSQL under load, bench scale).
      if (error instanceof StoreError) return timers.planAt(discordUserId, retryAfterStoreFailure(clock));
    }
    if (timers.planned(discordUserId)?.armed) return; // reconcile planned a retry
    await planNext(discordUserId, await schedules.get(discordUserId));
  }

  /** One user's run outside a timer: an edit (any process), or the catch-up's (`catchUp`, see CatchUpRun;
   *  `listed` is used unless something here touched the user since, and `pace` is checked right before each
   *  piece of CPU work: lanes interleave at every await, so a check any earlier let 64 lanes each run a user
   *  in one turn). */
  async function sync(discordUserId: string, catchUp?: CatchUpRun): Promise<void> {
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
        return reconcile(discordUserId, { teams, ...(catchUp ? { accepted: () => { deps.onCatchUpChange?.(); catchUp.accepted(); }, uploadSlot: catchUp.uploadSlot } : {}), ...(fresh ? {} : { listed }) });
      });
    } catch (error) {
      logger.error({ err: error, user: discordUserId }, 'catching up schedules failed');
    }
    const plan = timers.planned(discordUserId);
    if (plan?.armed && plan.at > clock.now()) return;
    await paced();
    await planNext(discordUserId, unchanged ?? (await schedules.get(discordUserId)), teams);
  }

  async function catchUp(): Promise<CatchUp> {
    touchedDuringCatchUp = new Set();
    try {
      const users = await catchUpAll({ schedules, ...(deps.teams ? { teams: deps.teams } : {}), logger, stopped: () => stopped, sync });
      return { users, armed: timers.armed };
    } finally {
      touchedDuringCatchUp = undefined;
    }
  }
  let caughtUp: Promise<CatchUp> | undefined;

  coordination.subscribe((discordUserId) => {
    touchedDuringCatchUp?.add(discordUserId);
    if (!stopped) void track(sync(discordUserId));
  });

  return {
    armHousekeeping: timers.armHousekeeping,
    start() {
      // Armed from the start, so changes planned by users' edits during a long catch-up are armed too.
      timers.armHousekeeping();
      caughtUp ??= track(catchUp());
      return caughtUp;
    },

    get caughtUp() {
      return caughtUp;
    },

    async refresh(discordUserId) {
      await coordination.publish(discordUserId);
    },

    async edit(discordUserId, change = () => undefined) {
      const record = await schedules.update(discordUserId, change);
      await coordination.publish(discordUserId);
      return record;
    },

    completeRecovered(changes) {
      changes.onRecovered('schedule', async (change, applied) => {
        if (change.origin.kind !== 'schedule') return;
        touchedDuringCatchUp?.add(change.userId);
        const { target } = change.origin;
        if ((change.part ?? 'avatar') !== 'avatar' || (await schedules.get(change.userId)).changing?.target === target) {
          // One part of a change of several: whoever takes the next attempt finds it made and does the rest.
          await schedules.update(change.userId, (draft) => {
            if (draft.changing?.target === target) draft.changing.attempt = (draft.changing.attempt ?? 0) + 1;
          });
          return coordination.publish(change.userId);
        }
        await recordApplied(change.userId, change.origin, avatarOf(applied));
        recoveredFor.add(change.userId);
      });
    },

    plannedAt: (discordUserId) => {
      const plan = timers.planned(discordUserId);
      return plan ? new Date(plan.at) : undefined;
    },

    get armed() {
      return timers.armed;
    },

    async stop() {
      stopped = true;
      await timers.stop();
      await Promise.allSettled([...running]);
    },
  };
}
