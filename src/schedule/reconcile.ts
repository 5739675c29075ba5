/**
 * One user's rules, each time their avatar may have to change (a timer fired, a catch-up, an edit): what
 * to apply now (the member's active team season takes precedence over their own schedules, unless they
 * left that server), whether X's limits or a retry hold it back, which process does it (one lease per
 * transition), and what a failure does (a missing image pauses its schedule, a revoked link suspends every
 * schedule, a rate limit or X being down is retried later). Completed changes are recorded and told.
 */
import { AccountError } from '../accounts/errors.js';
import { ChangeDeferred } from '../changes/pipeline.js';
import { avatarOf, type AppliedAvatar } from '../avatar/changes.js';
import { LibraryError, type Kit } from '../library/store.js';
import type { StoredImage } from '../avatar/history.js';
import { changeParts, type PartsChanged } from './parts-transition.js';
import type { ScheduleRecord } from './store.js';
import { VaultError } from '../accounts/vault.js';
import { XApiError } from '../x/errors.js';
import { activeImageAt, nextRotationImage, ruleOf, type Rule, type RotationSchedule } from './engine.js';
import { ruleWords } from '../i18n/schedule-words.js';
import { createLimiter, type Limiter } from '../coordination/limiter.js';
import { heldBackByBot, rateLimitRetryAt } from '../x/rate-limit.js';
import { StoreError } from '../store/backend.js';
import { storedError, type ScheduleFailure } from './failures.js';
import { activeTeamSeason, notBeforeMs, rulesNow, teamImageKey, type Team } from './plan.js';
import type { ScheduledNotice, SchedulerClock, SchedulerDeps } from './scheduler.js';
import { LEASE_MS } from './timers.js';
import { lookForHandChange, pauseFor, pausedId, shownBefore, type HandChangeLook } from './hand-changes.js';

const TRANSIENT_RETRY_MS = 5 * 60_000;

/** Why reconcile runs: `dueMs` a timer's fire; `teams` already read; the catch-up's `accepted`, `listed`
 *  (its listing's copy of the record) and `uploadSlot`. */
export interface ReconcileTrigger {
  dueMs?: number;
  teams?: Team[];
  accepted?: () => void;
  listed?: ScheduleRecord;
  uploadSlot?: Limiter;
}

export interface Reconciler {
  /**
   * Apply what the schedules call for now, unless it is already applied. Runs one at a time per user in
   * this process (the caller holds the user's lock); across processes the transition lease decides.
   * Returns the record when nothing was done (the caller plans with it).
   */
  reconcile(discordUserId: string, trigger: ReconcileTrigger): Promise<ScheduleRecord | void>;
  /** A scheduled change completed (here, or recovered after a restart): remember it and tell the user.
   *  `parts`: a change of several parts (a kit, or parts restored); `applied` is then its avatar change, if any. */
  recordApplied(discordUserId: string, origin: { target: string; image: string; label: string; rule?: Rule }, applied: AppliedAvatar | undefined, dueMs?: number, parts?: PartsChanged & { kit: boolean }): Promise<void>;
  /** The member's teams (none without team branding). */
  teamsOf(discordUserId: string): Promise<Team[]>;
}

export interface ReconcileDeps extends SchedulerDeps {
  clock: SchedulerClock;
  /** Plan the user's next timer (a retry, a change held back by the minimum interval). */
  planAt(discordUserId: string, at: number): void;
  /** Users with a change completed by recovery since the scheduler read their record. */
  recoveredFor: Set<string>;
  /** The user's spread offset (plan.ts `spreadOffsetMs`): their rules are read that much behind the clock. */
  offsetOf(discordUserId: string): number;
}

export function createReconciler(deps: ReconcileDeps): Reconciler {
  const { schedules, library, avatars, coordination, logger, clock, planAt, recoveredFor } = deps;
  const isMember = deps.isMember ?? (async () => true);
  const teamConcurrency = deps.teamConcurrency ?? 4;
  const teamsOf = async (discordUserId: string): Promise<Team[]> => (deps.teams ? deps.teams.forMember(discordUserId) : []);

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

  /** A random rotation picks its new image when it fires, once (the caller holds the run's lease). */
  async function pickRandom(discordUserId: string, record: ScheduleRecord): Promise<ScheduleRecord> {
    const due = activeImageAt(record, rulesNow(clock.now(), deps.offsetOf(discordUserId)));
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

  async function recordApplied(discordUserId: string, origin: { target: string; image: string; label: string; rule?: Rule }, applied: AppliedAvatar | undefined, dueMs?: number, parts?: PartsChanged & { kit: boolean }): Promise<void> {
    const record = await schedules.update(discordUserId, (draft) => {
      delete draft.retry;
      const held = parts && Object.keys(parts.held).length > 0 ? { parts: parts.held } : {};
      draft.applied = { image: origin.target, at: new Date(clock.now()).toISOString(), ...held };
      delete draft.acceptedAvatar; // the bot's own avatar is what the next change compares with
      if (parts) delete draft.changing;
      draft.lastRun = { at: draft.applied.at, outcome: 'applied', detail: origin.image };
    });
    logger.info({ user: discordUserId, image: origin.target, due: dueMs, ...(parts ? { changed: parts.changed, restored: parts.restored } : {}) }, 'scheduled change applied');
    const avatar = applied ? { url400: applied.user.profileImage.size400, ...applied.image } : {};
    const which = parts ? { parts: { kit: parts.kit, changed: parts.changed, restored: parts.restored } } : {};
    await tell(discordUserId, record, { kind: 'changed', image: origin.image, ...(origin.rule ? { rule: origin.rule } : {}), label: origin.label, ...avatar, ...which });
  }

  /** What a name in the schedules is: an image, or a kit (whose images must all still be there). Throws
   *  LibraryError('not-found') when it is neither, as a missing image does. */
  async function targetOf(owner: string, name: string, team: boolean): Promise<{ kind: 'image'; image: StoredImage } | { kind: 'kit'; kit: Kit }> {
    const item = team ? await library.require(owner, name) : await library.get(owner, name);
    if (item) return { kind: 'image', image: item.image };
    const kit = await library.getKit(owner, name);
    if (kit && (!kit.avatar || kit.images.avatar) && (!kit.banner || kit.images.banner)) return { kind: 'kit', kit };
    return { kind: 'image', image: (await library.require(owner, name)).image };
  }

  async function reconcile(discordUserId: string, trigger: ReconcileTrigger): Promise<ScheduleRecord | void> {
    let record = trigger.listed ?? (await schedules.get(discordUserId));
    const now = clock.now();
    const rules = rulesNow(now, deps.offsetOf(discordUserId));
    let teams = trigger.teams ?? (await teamsOf(discordUserId));
    let team = activeTeamSeason(teams, rules);
    // A member who left the server is not changed by its team season (and the check withdraws their consent there).
    while (team && !(await isMember(team.guildId, discordUserId))) {
      const left = team.guildId;
      teams = teams.filter((candidate) => candidate.guildId !== left);
      team = activeTeamSeason(teams, rules);
    }
    if (record.suspended || (!team && record.schedules.length === 0 && record.defaultImage === undefined)) return record;
    if (!team && trigger.dueMs !== undefined) record = await pickRandom(discordUserId, record);
    const active = activeImageAt(record, rules);
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
    // A change of several parts continued after a restart is a new attempt (the stopped process's lease is not waited for).
    const attempt = (record.changing?.target === target && record.changing.attempt ? `:${record.changing.attempt}` : '') + (record.retry?.appBlocked ? `:b${record.retry.appBlocked}` : '');
    const transition = `apply:${discordUserId}:${record.applied?.at ?? 'never'}:${record.lastRun?.at ?? 'never'}:${target}${attempt}`;
    if (!(await coordination.coordinator.shouldRun(transition, LEASE_MS))) return;

    const rule: Rule = team ? { kind: 'team-season', from: team.season.from, to: team.season.to } : ruleOf(record, active.source);
    // English in the history and the journal (the notice is worded in the user's language from `rule`).
    const label = ruleWords('en-US', rule);
    let found;
    try {
      found = await targetOf(imageOwner, imageName, team !== undefined);
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

    /** Issue 12: a personal change that sets the avatar looks whether it was changed by hand on X first (hand-changes.ts). */
    const lookForHand = async (setsAvatar: boolean): Promise<HandChangeLook> =>
      team || !setsAvatar || record.overwriteHandChanges || !deps.profiles ? {} : lookForHandChange({ history: (id) => avatars.settled(id).then(() => avatars.history(id)), readProfile: deps.profiles.read }, discordUserId, record);
    const pauseForHand = async (url: string) => {
      const failure: ScheduleFailure = { kind: 'hand-changed', rule, image: imageName, schedule: pausedId(active.source) };
      record = await recordFailure(discordUserId, failure, (draft) => pauseFor(draft, active.source, { reason: 'hand-changed', at: new Date(clock.now()).toISOString(), url }));
      logger.info({ user: discordUserId, schedule: failure.schedule }, 'avatar changed by hand on X: the schedule is paused, nothing uploaded');
      return tell(discordUserId, record, { kind: 'failed', failure });
    };

    try {
      const origin = { kind: 'schedule' as const, target, image: imageName, label, rule };
      const heldParts = record.changing ?? (record.applied?.parts && Object.keys(record.applied.parts).length > 0);
      if (found.kind === 'kit' || heldParts) {
        // A kit, or an image after a kit: each part its own change; the parts a kit changed and this target does not set are restored.
        if (!deps.profiles) throw new TypeError('the scheduler needs `profiles` to apply a kit');
        const kit = found.kind === 'kit' ? found.kit : undefined;
        // A change continued (a retry, a restart) was looked at when it began. The check's read fills the kit's templates too.
        const looked: HandChangeLook = record.changing?.target === target ? {} : await lookForHand(kit === undefined || kit.images.avatar !== undefined);
        if (looked.handChanged !== undefined) return await pauseForHand(looked.handChanged);
        const values = found.kind === 'kit' ? await deps.profiles.valuesFor(discordUserId, found.kit, looked.profile) : { avatar: found.image };
        const options = trigger.uploadSlot ? { uploadSlot: trigger.uploadSlot } : {};
        const shownAvatar = shownBefore(looked);
        const changed = await changeParts({ avatars, schedules, readProfile: deps.profiles.read }, discordUserId, record, {
          target,
          values,
          kit: kit !== undefined,
          origin,
          ...(looked.profile ? { profile: looked.profile } : {}),
          begin: (part, value) => {
            const begin = () => avatars.beginPart(discordUserId, part, value, team ? 'branding' : 'schedule', `${label}: ${imageName}`, origin, part === 'avatar' ? { ...options, ...shownAvatar } : options);
            return team ? teamUpload(team.guildId, begin) : begin();
          },
          begun: () => trigger.accepted?.(),
        });
        return await recordApplied(discordUserId, origin, changed.avatar && avatarOf(changed.avatar), trigger.dueMs, { ...changed, kit: kit !== undefined });
      }
      const item = found;
      // A change to this target left by a restart is waited for, not uploaded again.
      const joined = avatars.pending(discordUserId, (candidate) => candidate.kind === 'schedule' && candidate.target === target);
      if (joined?.told) return void (await joined.final); // being recorded and told by the recovery: once
      // A recovered change that completed since the record was read above is recorded there now.
      if (!joined && recoveredFor.delete(discordUserId) && (await schedules.get(discordUserId)).applied?.image === target) return;
      const looked = joined ? {} : await lookForHand(true);
      if (looked.handChanged !== undefined) return await pauseForHand(looked.handChanged);
      const shownAvatar = shownBefore(looked);
      // The team limiter's slot is held until X accepted the upload, not through X's processing wait.
      const begin = () => avatars.begin(discordUserId, item.image, team ? 'branding' : 'schedule', `${label}: ${imageName}`, origin, { ...(trigger.uploadSlot ? { uploadSlot: trigger.uploadSlot } : {}), ...shownAvatar });
      const started = joined ?? (team ? await teamUpload(team.guildId, begin) : await begin());
      trigger.accepted?.(); // X has the image: a catch-up lane may take the next user while X processes it
      const applied = avatarOf(await started.final);
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
      if (error instanceof XApiError && error.kind === 'app-blocked') {
        // X refuses the app, not this user (src/x/breaker.ts): wait for the breaker's next probe, which may be
        // this very change. No failure recorded, no notice, no rate-limit count: nothing is the user's.
        const retryAt = Math.max(error.resetAt?.getTime() ?? 0, clock.now() + 1_000);
        await schedules.update(discordUserId, (draft) => void (draft.retry = { at: new Date(retryAt).toISOString(), rateLimits: draft.retry?.rateLimits ?? 0, appBlocked: (draft.retry?.appBlocked ?? 0) + 1 }));
        logger.info({ user: discordUserId, reason: error.variant, retryAt: new Date(retryAt).toISOString() }, 'scheduled change waits: X refuses the app');
        return planAt(discordUserId, retryAt);
      }
      if (error instanceof XApiError && error.kind === 'rate-limited') {
        // Held back by the bot's write budget (nothing reached X): just after the instant it names, no backoff.
        const ours = heldBackByBot(error);
        const rateLimits = (record.retry?.rateLimits ?? 0) + (ours ? 0 : 1);
        const retryAt = ours ? rateLimitRetryAt(error.resetAt, clock.now(), 1, 0) : rateLimitRetryAt(error.resetAt, clock.now(), rateLimits);
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

  return { reconcile, recordApplied, teamsOf };
}
