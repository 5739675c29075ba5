/**
 * The catch-up after a start: every user's record, a page at a time, each read once, through a fixed
 * pool of lanes, with a bound on uploads at once and a share of the event loop (the bot answers
 * interactions during a restore).
 */
import { createLimiter, type Limiter } from '../coordination/limiter.js';
import type { Logger } from '../log.js';
import type { ScheduleRecord, ScheduleStore } from './store.js';
import type { Team } from './plan.js';
import type { TeamOverrides } from './teams.js';

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
export interface Pace {
  over(): boolean;
  breathe(): Promise<void>;
}

/** One user's part of the catch-up: `accepted` when X took the upload, `listed` the record as the listing
 *  read it (undefined: damaged), `teams` as read for everyone (undefined: read them on their own),
 *  `uploadSlot` the bound on uploads, `pace` the share of the event loop. */
export interface CatchUpRun {
  accepted: () => void;
  listed: ScheduleRecord | undefined;
  teams: Team[] | undefined;
  uploadSlot: Limiter;
  pace: Pace;
}

export interface CatchUpDeps {
  schedules: ScheduleStore;
  teams?: TeamOverrides;
  logger: Logger;
  stopped(): boolean;
  sync(discordUserId: string, run: CatchUpRun): Promise<void>;
}

/**
 * A fixed pool of lanes takes the next user as one finishes, so a slow user holds one lane, not the ones
 * behind it; a lane is free again once X accepted the user's upload, and the read of the final URL
 * finishes on its own. A lane holds one of the CATCH_UP_CONCURRENCY upload slots for the POST only. One user's failure is logged and skipped.
 * Records come a page at a time and each is read once: the listing's copy decides a user who needs
 * nothing (see `reconcile`), so 100,000 records cost 100 queries, not 100,100. Resolves with the users seen.
 */
export async function catchUpAll(deps: CatchUpDeps): Promise<number> {
  const { logger } = deps;
  let users = 0;
  const pages = deps.schedules.pages();
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
    while (!deps.stopped()) {
      if (performance.now() - sliceStarted > CATCH_UP_SLICE_MS) await breathe();
      const next = await entries.next();
      if (next.done) return;
      const [discordUserId, record] = next.value;
      users++;
      let accepted: () => void = () => {};
      const uploaded = new Promise<void>((resolve) => (accepted = resolve));
      const run = deps.sync(discordUserId, { accepted, listed: record, teams: teamsOfEveryone(discordUserId), uploadSlot, pace }).catch((error: unknown) => logger.error({ err: error, user: discordUserId }, 'catching up schedules failed'));
      finishing.add(run);
      void run.then(() => finishing.delete(run));
      await Promise.race([run, uploaded]);
    }
  };
  try {
    await Promise.all(Array.from({ length: CATCH_UP_LANES }, lane));
    await Promise.allSettled(finishing);
  } finally {
    await entries.return(undefined);
  }
  return users;
}
