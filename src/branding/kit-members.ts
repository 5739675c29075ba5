/**
 * A kit push for one member: only the parts of the kit the member allowed (the others are skipped, "part
 * not allowed"), templates filled with the member's own values, each part one recorded change begun with
 * beginPart in the upload slot (one after another, X's processing waits overlapping). Its revert takes back,
 * part by part, what the push changed, where the push's entry is still on top of that part's history.
 *
 * Per-part outcomes are kept in MemberResult.parts; the member is done when any part was changed.
 */
import type { AvatarChanges, PartValues, PreparedChange } from '../avatar/changes.js';
import { hashImage, hashText } from '../avatar/history.js';
import type { AppliedChange, StartedChange } from '../changes/pipeline.js';
import { isImageValue } from '../changes/parts.js';
import type { Logger } from '../log.js';
import type { Kit } from '../library/store.js';
import type { Kits } from '../profile/kits.js';
import { PROFILE_PARTS, type ProfilePart } from '../profile/parts.js';
import type { ConsentStore } from './consent.js';
import type { MemberResult, PartResult, PushJob } from './jobs.js';
import { classify } from './members.js';
import { heldBackByBot } from '../x/rate-limit.js';

export interface KitMemberDeps {
  avatars: AvatarChanges;
  consent: ConsentStore;
  kits: Pick<Kits, 'valuesFor'>;
  isMember(guildId: string, userId: string): Promise<boolean>;
  logger: Logger;
  stamp(): string;
}

/** A member prepared for the upload slot: the values per part, and each part's original saved ahead. */
export interface KitWork {
  parts: ProfilePart[];
  values: PartValues;
  prepared: Partial<Record<ProfilePart, PreparedChange>>;
}

/** Writes a member's attempt to the job before the upload (a restart finds it). */
export type RecordAttempt = (attempt: MemberResult) => Promise<void>;

/** The parts a kit has, in the order they are applied. */
export const kitParts = (kit: Pick<Kit, 'images' | 'nameTemplate' | 'bioTemplate'>): ProfilePart[] =>
  PROFILE_PARTS.filter((part) => (part === 'avatar' || part === 'banner' ? kit.images[part] !== undefined : (part === 'name' ? kit.nameTemplate : kit.bioTemplate) !== undefined));

/** The kit with only `parts` (so X is asked for the member's own values only when a template needs them). */
export function kitWith(kit: Kit, parts: ProfilePart[]): Kit {
  const { nameTemplate, bioTemplate, ...rest } = kit;
  return {
    ...rest,
    images: { ...(parts.includes('avatar') && kit.images.avatar ? { avatar: kit.images.avatar } : {}), ...(parts.includes('banner') && kit.images.banner ? { banner: kit.images.banner } : {}) },
    ...(parts.includes('name') && nameTemplate !== undefined ? { nameTemplate } : {}),
    ...(parts.includes('bio') && bioTemplate !== undefined ? { bioTemplate } : {}),
  };
}

/** A member's overall status from their parts: done when any part changed, else failed when any failed. */
function overall(before: MemberResult, parts: Partial<Record<ProfilePart, PartResult>>, at: string, nothingKind: string): MemberResult {
  const { kind: _kind, params: _params, variant: _variant, ...rest } = before;
  const results = Object.values(parts);
  if (results.some((part) => part.status === 'done')) return { ...rest, status: 'done', parts, at };
  const failed = results.find((part) => part.status === 'failed');
  if (failed) return { ...rest, status: 'failed', parts, at, kind: failed.kind ?? 'internal', ...(failed.params ? { params: failed.params } : {}), ...(failed.variant !== undefined ? { variant: failed.variant } : {}) };
  return { ...rest, status: 'skipped', parts, at, kind: nothingKind };
}

const failedPart = (before: PartResult | undefined, error: unknown): PartResult => {
  const { retry: _retry, resetAt: _resetAt, ...failure } = classify(error);
  return { ...(before?.previous !== undefined ? { previous: before.previous } : {}), status: 'failed', ...failure };
};

export function createKitMembers(deps: KitMemberDeps) {
  const { avatars, consent, kits, isMember, logger, stamp } = deps;

  /** Changes of this job to the member left by a restart: waited for, so the histories below include them. */
  async function settleLeftOver(job: PushJob, userId: string, phase: 'push' | 'revert'): Promise<void> {
    for (let seen = 0, left = avatars.pending(userId, (origin) => origin.kind === 'push' && origin.jobId === job.id && origin.phase === phase); left && seen < PROFILE_PARTS.length; seen++) {
      await left.final.catch(() => undefined);
      left = avatars.pending(userId, (origin) => origin.kind === 'push' && origin.jobId === job.id && origin.phase === phase);
    }
  }

  async function preparePush(job: PushJob, kit: Kit, userId: string, before: MemberResult, record: RecordAttempt): Promise<MemberResult | { upload: KitWork; attempt: MemberResult }> {
    await settleLeftOver(job, userId, 'push');
    const [allowed, member] = await Promise.all([consent.parts(job.guildId, userId), isMember(job.guildId, userId)]);
    const at = stamp();
    if (!allowed) return { ...before, status: 'skipped', kind: 'not-opted-in', at };
    if (!member) return { ...before, status: 'skipped', kind: 'left-server', at };
    const parts: Partial<Record<ProfilePart, PartResult>> = { ...before.parts };
    const wanted = kitParts(kit);
    for (const part of wanted) if (!allowed.includes(part)) parts[part] = { status: 'skipped', kind: 'part-not-allowed' };
    const todo = wanted.filter((part) => allowed.includes(part) && parts[part]?.status !== 'done');
    if (todo.length === 0) return overall(before, parts, at, 'part-not-allowed');
    const values = await kits.valuesFor(userId, kitWith(kit, todo));
    const upload: ProfilePart[] = [];
    for (const part of todo) {
      const value = values[part]!;
      const { entries } = await avatars.partHistory(userId, part);
      const last = entries.at(-1);
      const previous = parts[part]?.previous;
      const hash = isImageValue(value) ? hashImage(value.data) : hashText(value.text);
      if (previous !== undefined && last && last.id !== previous && last.hash === hash && last.source === 'branding') {
        // An earlier run's change reached X and is in the history, but that process stopped before recording it.
        parts[part] = { status: 'done', previous, entryId: last.id, shown: last.url400 };
        continue;
      }
      parts[part] = { status: 'pending', previous: previous ?? last?.id ?? 'original' };
      upload.push(part);
    }
    if (upload.length === 0) return overall(before, parts, at, 'part-not-allowed');
    const attempt: MemberResult = { ...before, parts, attempts: before.attempts + 1, at };
    await record(attempt);
    const prepared: KitWork['prepared'] = {};
    try {
      for (const part of upload) prepared[part] = await avatars.prepare(userId, part);
    } catch (error) {
      await discard({ parts: upload, values, prepared }, userId);
      throw error;
    }
    return { upload: { parts: upload, values, prepared }, attempt };
  }

  async function discard(work: KitWork, userId: string): Promise<void> {
    for (const prepared of Object.values(work.prepared)) {
      await prepared.discard().catch((error: unknown) => logger.warn({ err: error, user: userId }, 'could not drop an original saved ahead'));
    }
  }

  /** Begins every part in turn (the slot is held until X accepted each); `later` settles once each is read and recorded. */
  async function uploadPush(job: PushJob, userId: string, attempt: MemberResult, work: KitWork): Promise<{ later: Promise<MemberResult> }> {
    const origin = { kind: 'push' as const, jobId: job.id, phase: 'push' as const };
    const begun: Array<[ProfilePart, Promise<AppliedChange>]> = [];
    for (const [index, part] of work.parts.entries()) {
      const prepared = work.prepared[part];
      let started: StartedChange;
      try {
        started = await avatars.beginPart(userId, part, work.values[part]!, 'branding', job.label, origin, prepared ? { prepared } : {});
      } catch (error) {
        // X is limiting or unavailable before anything of this member changed: the whole member is tried again later.
        // So is a part the bot's write budget held back after others began (issue 12): the retry finds those in
        // the history (preparePush) and sends only what is left, instead of the part failing for good.
        if ((begun.length === 0 || heldBackByBot(error)) && classify(error).retry) {
          for (const [, final] of begun) final.catch(() => undefined); // they complete on their own; the retry joins them
          await discard({ ...work, parts: work.parts.slice(index + 1) }, userId);
          throw error;
        }
        begun.push([part, Promise.reject(error)]);
        continue;
      }
      begun.push([part, started.final]);
    }
    for (const [, final] of begun) final.catch(() => undefined); // read below
    const later = (async () => {
      const parts = { ...attempt.parts };
      for (const [part, final] of begun) {
        parts[part] = await final.then(
          (applied): PartResult => ({ status: 'done', previous: parts[part]?.previous ?? 'original', ...(applied.entry ? { entryId: applied.entry.id, shown: applied.entry.url400 } : {}) }),
          (error: unknown) => failedPart(parts[part], error),
        );
      }
      return overall(attempt, parts, stamp(), 'part-not-allowed');
    })();
    return { later };
  }

  /** What of the push to take back: the parts whose history still has the push's entry on top. */
  async function prepareRevert(job: PushJob, userId: string, before: MemberResult, record: RecordAttempt): Promise<MemberResult | { upload: KitWork; attempt: MemberResult }> {
    await settleLeftOver(job, userId, 'revert');
    const pushed = job.results[userId]?.parts ?? {};
    const parts: Partial<Record<ProfilePart, PartResult>> = { ...before.parts };
    const upload: ProfilePart[] = [];
    for (const part of PROFILE_PARTS) {
      const change = pushed[part];
      if (change?.status !== 'done' || parts[part]?.status === 'done') continue;
      const { entries } = await avatars.partHistory(userId, part);
      const last = entries.at(-1);
      if (change.entryId !== undefined && last?.id === change.entryId) {
        parts[part] = { status: 'pending' };
        upload.push(part);
        continue;
      }
      const restored = change.previous === 'original' ? entries.length === 0 : last?.id === change.previous;
      // Reverted by a run that stopped before recording it, or changed by the member since the push.
      parts[part] = parts[part]?.status === 'pending' && restored ? { status: 'done', ...(last ? { shown: last.url400 } : {}) } : { status: 'skipped', kind: 'changed-since' };
    }
    const at = stamp();
    if (upload.length === 0) return overall(before, parts, at, 'changed-since');
    const attempt: MemberResult = { ...before, parts, attempts: before.attempts + 1, at };
    await record(attempt);
    return { upload: { parts: upload, values: {}, prepared: {} }, attempt };
  }

  async function uploadRevert(job: PushJob, userId: string, attempt: MemberResult, work: KitWork): Promise<{ later: Promise<MemberResult> }> {
    const origin = { kind: 'push' as const, jobId: job.id, phase: 'revert' as const };
    const begun: Array<[ProfilePart, Promise<AppliedChange>]> = [];
    for (const part of work.parts) {
      const started = avatars.beginRevert(userId, origin, part);
      await started.then(() => undefined, () => undefined);
      const final = started.then((change) => change.final);
      final.catch(() => undefined);
      begun.push([part, final]);
    }
    const later = (async () => {
      const parts = { ...attempt.parts };
      for (const [part, final] of begun) {
        parts[part] = await final.then((applied): PartResult => ({ status: 'done', ...(applied.entry ? { shown: applied.entry.url400 } : {}) }), (error: unknown) => failedPart(undefined, error));
      }
      return overall(attempt, parts, stamp(), 'changed-since');
    })();
    return { later };
  }

  return { preparePush, uploadPush, prepareRevert, uploadRevert, discard };
}

export type KitMembers = ReturnType<typeof createKitMembers>;
