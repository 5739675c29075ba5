/**
 * The scheduler's timers: one node-cron task per imminent change (in UTC, noOverlap, and in distributed
 * mode with the run coordinator when several processes share a Redis store), a plan without a task for
 * the rest, and the minutely housekeeping that arms plans as they come near. Only changes due within
 * `armWindowMs` hold a task, so 10,000 users cost a map entry each, not 10,000 timers.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Coordination } from '../coordination/runs.js';
import type { SchedulerClock } from './scheduler.js';

/** A scheduled run the store failed (its record, or its lease, not read in time) is tried again this long after. */
export const STORE_RETRY_MS = 15_000;

/** When to try a run the store failed again: STORE_RETRY_MS, up to half as long again, so that the runs an outage
 *  failed together do not come back together. */
export const retryAfterStoreFailure = (clock: SchedulerClock): number => clock.now() + STORE_RETRY_MS * (1 + Math.random() / 2);

/** How long one process holds a scheduled run (node-cron's distributed lease, and a transition's). */
export const LEASE_MS = 10 * 60_000;

interface Plan {
  at: number;
  task?: ScheduledTask;
}

export interface Timers {
  /** Set the user's next timer at `at` (none when undefined), arming it now when it is near. */
  planAt(discordUserId: string, at: number | undefined): void;
  /** The user's plan: its instant, and whether a task is armed for it. */
  planned(discordUserId: string): { at: number; armed: boolean } | undefined;
  /** Start the minute housekeeping that arms the plans coming near (once). */
  armHousekeeping(): void;
  /** What the housekeeping does each minute: arm every plan within the arming window that has no task. */
  armNear(): void;
  /** Plans with an armed task. */
  readonly armed: number;
  /** No more timers: the housekeeping and every task are destroyed. */
  stop(): Promise<void>;
}

export interface TimerDeps {
  clock: SchedulerClock;
  armWindowMs: number;
  coordination: Coordination;
  /** A task fired: the change due at `dueMs` (whole seconds) runs; node-cron waits for it (noOverlap). */
  fire(discordUserId: string, dueMs: number): Promise<void>;
  /** Another process was elected for this run: plan the change after it, as that process does. */
  skipped(discordUserId: string): void;
}

/**
 * The scheduler's clock minus the real one, both read within one millisecond. Read across a tick, the difference
 * was 1 ms off and a change due on a whole second was rounded up to the next one: about one change in 1,000
 * (bench scale) fired a second late, and with several processes under a lease key of its own, so the process
 * that lost the election ran it too. Three tries at most (a clock that is slow to read keeps the last).
 */
function clockOffset(clock: SchedulerClock): number {
  let offset = 0;
  for (let tries = 0; tries < 3; tries++) {
    const real = Date.now();
    offset = clock.now() - real;
    if (Date.now() === real) return offset;
  }
  return offset;
}

/** A node-cron pattern that matches one UTC instant (to the second). */
function patternFor(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
}

export function createTimers(deps: TimerDeps): Timers {
  const { clock, armWindowMs, coordination } = deps;
  const plans = new Map<string, Plan>();
  let housekeeping: ScheduledTask | undefined;
  let stopped = false;

  function disarm(discordUserId: string): void {
    const plan = plans.get(discordUserId);
    if (plan?.task) void plan.task.destroy();
    plans.delete(discordUserId);
  }

  /**
   * A plan whose task fired (or was skipped) is spent: it leaves the map, and whoever handles the fire plans
   * the next change. Left there without its task, its instant past, the housekeeping armed it again while the
   * run was still going (an upload and X's 5 s wait): the same change fired twice, the second a no-op ten
   * seconds late (bench scale: 1,820 fires for 1,000 changes). False when the user was planned again meanwhile.
   */
  function spend(discordUserId: string, plan: Plan): boolean {
    if (plans.get(discordUserId) !== plan) return false;
    plans.delete(discordUserId);
    return true;
  }

  function armNear(): void {
    for (const [discordUserId, plan] of plans) if (!plan.task && plan.at - clock.now() <= armWindowMs) arm(discordUserId, plan);
  }

  function arm(discordUserId: string, plan: Plan): void {
    if (plan.task || stopped) return;
    const dueMs = Math.ceil(plan.at / 1000) * 1000;
    // node-cron fires at the start of the pattern's second: rounded up, so that a clock that is not a whole
    // number of seconds off the real one (tests move it) never fires before the instant (it found nothing due).
    const realMs = Math.ceil((dueMs - clockOffset(clock)) / 1000) * 1000;
    const task = cron.schedule(
      patternFor(Math.max(realMs, Date.now() + 1000)),
      () => {
        void task.destroy();
        spend(discordUserId, plan);
        return deps.fire(discordUserId, dueMs);
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
    task.on('execution:skipped', (context: { reason?: string }) => {
      void task.destroy();
      if (!spend(discordUserId, plan)) return;
      // The lease could not be asked (the store did not answer in time): nobody ran it, so it is tried again
      // shortly, not handed to the process that was elected (there is none).
      if (context.reason === 'coordinator-error') return timers.planAt(discordUserId, retryAfterStoreFailure(clock));
      deps.skipped(discordUserId);
    });
    plan.task = task;
  }

  const timers: Timers = {
    planAt(discordUserId, at) {
      disarm(discordUserId);
      if (at === undefined || stopped) return;
      const plan: Plan = { at };
      plans.set(discordUserId, plan);
      if (at - clock.now() <= armWindowMs) arm(discordUserId, plan);
    },

    armNear,

    planned(discordUserId) {
      const plan = plans.get(discordUserId);
      return plan && { at: plan.at, armed: plan.task !== undefined };
    },

    armHousekeeping() {
      housekeeping ??= cron.schedule(
        '* * * * *',
        armNear,
        { name: 'avatar:housekeeping', noOverlap: true, unref: true },
      );
    },

    get armed() {
      return [...plans.values()].filter((plan) => plan.task).length;
    },

    async stop() {
      stopped = true;
      if (housekeeping) await housekeeping.destroy();
      for (const discordUserId of [...plans.keys()]) disarm(discordUserId);
    },
  };
  return timers;
}
