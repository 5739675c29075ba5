/**
 * How one avatar change runs, as the journal's state machine (see journal.ts):
 *
 *   under the user's lock: image stored → intent → (first change) original saved → sending → POST → accepted
 *   later, without the lock or a worker: the final URL is read → history → origin told → record deleted
 *
 * X processes an upload asynchronously (5 s by default before the new URL shows), so the wait is not
 * spent holding anything: one timer serves every pending read, due-time ordered, and reads run with
 * bounded concurrency. A push to 40 members at concurrency 4 used to hold a worker for 5.5 s per member
 * (55 s); now a worker is held for the upload only and the waits overlap.
 *
 * The original can be saved ahead, outside the caller's upload slot (`prepareOriginal`): a push prepares the
 * next members while its slots upload, so a slot is held for the store writes of the record and the POST
 * only. A prepared original that no change took is dropped again (`discardPrepared`), as a refused change
 * drops the one it saved; one left by a process killed between the two is the user's real avatar from
 * before the bot, and the next change finds it saved.
 *
 * A restart (`recover`) finishes every change left by a process that is gone, from its recorded state:
 * intent → save the original if not saved, then upload; sending → after one processing wait, read the
 * profile: a new image means X accepted it (no second upload), else upload; accepted → read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppliedAvatar } from '../avatar/changes.js';
import { createLimiter, type Limiter } from '../coordination/limiter.js';
import { takeLease } from '../coordination/lease.js';
import type { Logger } from '../log.js';
import type { Coordination } from '../coordination/runs.js';
import { hashText, type AvatarHistory, type HistoryEntry, type StoredImage } from '../avatar/history.js';
import type { ProfilePart } from '../profile/parts.js';
import { isImageValue, type PartDriver, type PartValue } from './parts.js';
import type { LinkedAccount, TokenVault } from '../accounts/vault.js';
import type { XClient, XUser } from '../x/client.js';
import { XApiError } from '../x/errors.js';
import { withWritePriority } from '../x/write-context.js';
import { errorRecord, UserFacingError, type StoredReason } from '../errors.js';
import type { ChangeJournal, ChangeOrigin, ChangeRecord, PlannedRecord } from './journal.js';

/** Reads of final URLs at once (each is one verify_credentials). */
const READ_CONCURRENCY = 16;
/** Reads while X still shows the previous image, as updateProfileImage did. */
const MAX_READS = 3;
/** Uploads of one change whose connection failed after sending, each followed by a look at the profile. */
const AMBIGUOUS_UPLOADS = 3;
/** A failed read or record is retried 1 s, 2 s, 4 s … 30 s apart, about 15 minutes in all. */
export const RECORD_RETRY_ATTEMPTS = 35;
const retryDelay = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000);

export interface ChangeRequest {
  userId: string;
  account: LinkedAccount;
  /** Default 'avatar'. */
  part?: ProfilePart;
  /** An image for the avatar or banner, a text for the name or bio; 'none' empties the part (a revert to an
   *  original that was empty). */
  value: PartValue | 'none';
  source: ChangeRecord['source'];
  label: string;
  origin: ChangeOrigin;
  planned: PlannedRecord;
  /** The original saved ahead by prepareOriginal, if it was. */
  prepared?: PreparedOriginal;
  /** Bounds the caller's uploads at once: held for the POST to X only, not for the store writes around it. */
  uploadSlot?: Limiter;
  /** What X showed in the part just before, when the caller read it (a scheduled change's hand-change check):
   *  the read after the upload waits for anything else. The history's top entry otherwise, which is not what
   *  X shows after a hand change the user let the bot replace. */
  shownBefore?: string;
}

/** What prepareOriginal found or saved; give it to start(), or to discardPrepared when no change is started. */
export interface PreparedOriginal {
  readonly userId: string;
  readonly part: ProfilePart;
  /** This preparation saved the user's original (their first change): it is dropped again unless a change X accepted uses it. */
  readonly savedOriginal: boolean;
  /** When the original it saved was saved: start() uses it only if the history still has that one. */
  readonly savedAt?: string;
  /** The profile's URL when the original was read: the read after the upload waits until X shows another. */
  readonly previousUrl?: string;
  /** The original could not be saved, in words (shown with the result). */
  readonly originalNotSaved?: StoredReason;
}

/** A change X accepted; `final` settles once its URL is read and recorded. */
/**
 * The process stopped while X was processing the change: its record stays in the journal and the next
 * start reads the final URL and completes it (reply, history, push result, notification). Callers that
 * waited for the final URL leave the change as it is instead of recording a failure.
 */
export class ChangeDeferred extends Error {
  constructor() {
    super('the bot stopped while X was processing the image; the change completes at the next start');
  }
}

/** A change X made; for the avatar (and banner) `image` is the image sent, for a name or bio `text`. */
export type AppliedChange = Omit<AppliedAvatar, 'image'> & { part: ProfilePart; value: PartValue | 'none'; image?: StoredImage };

export interface StartedChange {
  id: string;
  origin: ChangeOrigin;
  final: Promise<AppliedChange>;
  /** Joined a recovered change whose origin the recovery handler is telling already: wait, tell nobody. */
  told?: boolean;
}

/** Completes a change recovered after a restart (nobody in this process is waiting for it). */
export type RecoveredHandler = (record: ChangeRecord, applied: AppliedChange) => Promise<void>;

export interface ChangePipelineDeps {
  journal: ChangeJournal;
  /** Each part's history (the avatar's is the one from before there were parts). */
  histories: Record<ProfilePart, AvatarHistory>;
  drivers: Record<ProfilePart, PartDriver>;
  vault: TokenVault;
  x: Pick<XClient, 'verifyCredentials'>;
  coordination: Coordination;
  logger: Logger;
  processingDelayMs: number;
}

export interface ChangePipeline {
  /** Call under the user's lock, with an active link. Resolves once X accepted the upload. */
  start(request: ChangeRequest): Promise<StartedChange>;
  /** Call under the user's lock, with an active link: saves the user's original now when they have none
   *  (verify_credentials, download, normalise, store), so that start() does not. Pass it to start(), or to
   *  discardPrepared when no change is started after all. */
  prepareOriginal(userId: string, account: LinkedAccount, part?: ProfilePart): Promise<PreparedOriginal>;
  /** Call under the user's lock: drops the original a preparation saved, as a refused change does, unless a
   *  change took it (start() was called with it) or the history has moved on. Nothing happens twice. */
  discardPrepared(prepared: PreparedOriginal): Promise<void>;
  /** Resolves once every change of the user (of that part, when given) in progress here is complete (its history written). */
  settled(userId: string, part?: ProfilePart): Promise<void>;
  /** A change of the user in progress here whose origin matches: wait for it instead of uploading again. */
  pending(userId: string, matches: (origin: ChangeOrigin) => boolean): StartedChange | undefined;
  /** Adopt the changes of processes that are gone and finish them in the background; returns how many. */
  recover(): Promise<number>;
  onRecovered(kind: ChangeOrigin['kind'], handler: RecoveredHandler): void;
  /** Reads waiting for X's processing now, and the most at once since start: above 1, waits overlap. */
  readonly waits: { now: number; max: number };
  close(): void;
}

interface Tracked {
  record: ChangeRecord;
  value: PartValue | 'none';
  /** False for a change recovered after a restart until someone joins it. */
  waited: boolean;
  /** Its completion went to the recovery handler: a later joiner must not tell the origin again. */
  told?: boolean;
  /** Handed to the next start by close() (its waiter got ChangeDeferred): this process no longer completes it. */
  deferred?: boolean;
  /** The link used for the upload, kept for the read: the store may be down by then. */
  account?: LinkedAccount;
  final: Promise<AppliedChange>;
  resolve(applied: AppliedChange): void;
  reject(error: unknown): void;
}

/** The changes in progress here by id, and by user: every change begun asks about its user's (a catch-up of
 *  1,000 users scanned all of them each time, about 3% of its main thread). */
class TrackedChanges extends Map<string, Tracked> {
  readonly #byUser = new Map<string, Set<Tracked>>();

  override set(id: string, entry: Tracked): this {
    this.delete(id);
    super.set(id, entry);
    const mine = this.#byUser.get(entry.record.userId);
    if (mine) mine.add(entry);
    else this.#byUser.set(entry.record.userId, new Set([entry]));
    return this;
  }

  override delete(id: string): boolean {
    const entry = this.get(id);
    if (!entry) return false;
    const mine = this.#byUser.get(entry.record.userId);
    mine?.delete(entry);
    if (mine?.size === 0) this.#byUser.delete(entry.record.userId);
    return super.delete(id);
  }

  override clear(): void {
    this.#byUser.clear();
    super.clear();
  }

  ofUser(userId: string): Tracked[] {
    return [...(this.#byUser.get(userId) ?? [])];
  }
}

export function createChangePipeline(deps: ChangePipelineDeps): ChangePipeline {
  const { journal, x, logger } = deps;
  const partOf = (record: Pick<ChangeRecord, 'part'>): ProfilePart => record.part ?? 'avatar';
  const historyOf = (record: Pick<ChangeRecord, 'part'>) => deps.histories[partOf(record)];
  const driverOf = (record: Pick<ChangeRecord, 'part'>) => deps.drivers[partOf(record)];
  const tracked = new TrackedChanges();
  const handlers = new Map<ChangeOrigin['kind'], RecoveredHandler>();
  const handlerReady = new Map<ChangeOrigin['kind'], () => void>();
  const timers = new Set<NodeJS.Timeout>();
  const reads = createLimiter(READ_CONCURRENCY);
  const due = new Map<string, number>(); // change id → when to read
  let readTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const waits = { now: 0, max: 0 };
  // This process's changes are its own while it renews this lease. Taken before its first record is
  // written, and before it looks for orphans: a process starting beside it must not find a record whose
  // owner has no lease yet and take it over (two bot processes started together uploaded twice).
  const ownership = takeLease(deps.coordination, `changes-owner:${journal.owner}`).catch((error: unknown) => {
    logger.warn({ err: error }, 'could not take the lease on this process’s avatar changes');
  });

  const later = (ms: number, work: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) work();
    }, ms);
    timer.unref();
    timers.add(timer);
  };

  function track(record: ChangeRecord, value: PartValue | 'none', waited: boolean): Tracked {
    let resolve: (applied: AppliedChange) => void = () => {};
    let reject: (error: unknown) => void = () => {};
    const final = new Promise<AppliedChange>((done, fail) => {
      resolve = done;
      reject = fail;
    });
    final.catch(() => undefined); // nobody may be waiting (a recovered change)
    const entry: Tracked = { record, value, waited, final, resolve, reject };
    // Begun during a stop (a scheduled change that took its lease as the bot was closing): nothing here reads it
    // any more, so its waiter is told at once, as close() told the others, instead of waiting for ever (the stop
    // waited on it); the journal has it for the next start.
    if (closed) defer(entry);
    else tracked.set(record.id, entry);
    return entry;
  }

  /** Whether `user` shows the change (see PartDriver.reached); an emptied part shows nothing. */
  function reached(user: XUser, record: ChangeRecord): boolean {
    const driver = driverOf(record);
    if (record.clear) return driver.shown(user) === '';
    return driver.reached(user, { ...(record.previousUrl !== undefined ? { previous: record.previousUrl } : {}), ...(record.text !== undefined ? { text: record.text } : {}) });
  }

  /** Best effort: the journal is the crash record, but a store outage must not fail a change X accepted. */
  async function note(entry: Tracked, patch: Partial<ChangeRecord>): Promise<void> {
    entry.record = { ...entry.record, ...patch };
    try {
      await journal.update(entry.record, {});
    } catch (error) {
      logger.warn({ err: error, change: entry.record.id }, 'could not record a change step; carrying on');
    }
  }

  /** What the user has now in the part (an image normalised), saved as their original before anything is sent. */
  async function saveOriginal(userId: string, account: LinkedAccount, part: ProfilePart): Promise<{ previousUrl: string; savedAt: string; originalNotSaved?: StoredReason }> {
    const current = await x.verifyCredentials(account); // also proves the link works before we upload
    const savedAt = new Date().toISOString();
    const history = deps.histories[part];
    const previousUrl = deps.drivers[part].shown(current);
    try {
      const { value, shown } = await deps.drivers[part].readOriginal(current);
      if (value === 'none') await history.saveOriginal(userId, { saved: true, none: true, hash: '', savedAt, url: '' });
      else if (isImageValue(value)) {
        const hash = await history.putImage(userId, value);
        await history.saveOriginal(userId, { saved: true, hash, format: value.format, savedAt, url: shown });
      } else await history.saveOriginal(userId, { saved: true, hash: hashText(value.text), text: value.text, savedAt, url: shown });
    } catch (error) {
      if (!(error instanceof UserFacingError) || error.kind === 'unreachable') throw error;
      const reason = errorRecord(error); // worded when shown, in the reader's language
      logger.warn({ err: error, xUserId: account.xUserId, part }, 'could not save the original');
      await history.saveOriginal(userId, { saved: false, reason, savedAt });
      return { previousUrl, savedAt, originalNotSaved: reason };
    }
    return { previousUrl, savedAt };
  }

  /** Preparations a change took (start() was called with them): discarding them is then the change's job. */
  const takenPreparations = new WeakSet<PreparedOriginal>();

  /** From 'intent' (or a 'sending' that did not reach X) to 'accepted'. */
  async function send(entry: Tracked, account: LinkedAccount, prepared?: PreparedOriginal, uploadSlot?: Limiter): Promise<void> {
    const { userId } = entry.record;
    const part = partOf(entry.record);
    let sentAtWritten = false;
    if (entry.record.state === 'intent') {
      const before = await deps.histories[part].get(userId);
      let previousUrl = entry.record.previousUrl ?? before.entries.at(-1)?.url400 ?? (before.original?.saved ? before.original.url : undefined);
      let savedOriginal = false;
      // Saved ahead, and still the user's original with nothing applied over it: this change owns it.
      const saved = prepared?.savedOriginal && prepared.part === part && before.entries.length === 0 && before.original?.savedAt === prepared.savedAt ? prepared : undefined;
      if (saved || !before.original) {
        const { previousUrl: shown, originalNotSaved } = saved ?? (await saveOriginal(userId, account, part));
        if (originalNotSaved) entry.record = { ...entry.record, originalNotSaved };
        previousUrl = shown;
        savedOriginal = true;
      }
      entry.record = { ...entry.record, state: 'sending', sentAt: Date.now(), savedOriginal, ...(previousUrl !== undefined ? { previousUrl } : {}) };
      await journal.update(entry.record, {}); // must be written: a restart after this compares before sending
      sentAtWritten = true;
    }
    for (let tries = 1; ; tries++) {
      // The look after an ambiguous failure (here or after a restart) counts X's processing wait from here.
      if (!sentAtWritten) await note(entry, { sentAt: Date.now() });
      sentAtWritten = false;
      let uploaded: XUser | undefined;
      try {
        const driver = driverOf(entry.record);
        const { value } = entry;
        // The write budget serves commands first, then schedules, then pushes (src/x/budget.ts).
        const upload = () => withWritePriority(entry.record.origin.kind, () => (value === 'none' ? driver.clear(account) : driver.send(account, value)));
        uploaded = await (uploadSlot ? uploadSlot.run(upload) : upload());
      } catch (error) {
        // The connection failed after the upload was sent: X may have applied it. Sending it again blindly
        // would upload it twice, so look at the profile first, as a restart does.
        if (!(error instanceof XApiError && error.ambiguous)) throw error;
        logger.warn({ err: error, change: entry.record.id }, 'an upload failed after it was sent; looking whether X applied it');
        const shown = await reachedX(entry.record, account);
        if (shown) return driverOf(entry.record).processed ? accept(entry, undefined, Date.now()) : accept(entry, shown);
        if (tries >= AMBIGUOUS_UPLOADS) throw error;
        continue;
      }
      return accept(entry, uploaded);
    }
  }

  /** The profile, once it shows the change (the upload reached X); undefined when it does not a processing wait
   *  after the upload, and once more a wait later (X's wait is not exact). A name or bio is looked at once: X
   *  applies it before answering. An image change that does not know what X showed before cannot tell. */
  async function reachedX(record: ChangeRecord, account: LinkedAccount): Promise<XUser | undefined> {
    const { processed } = driverOf(record);
    if (processed && record.previousUrl === undefined && !record.clear) return undefined;
    for (let look = 1; look <= (processed ? 2 : 1); look++) {
      if (processed) await sleep(Math.max(0, (record.sentAt ?? 0) + look * deps.processingDelayMs - Date.now()));
      const current = await x.verifyCredentials(account);
      if (reached(current, record)) return current;
    }
    return undefined;
  }

  /** `user`: X's answer to the upload, if it carried the profile (for an avatar it still shows the old picture;
   *  for a name or bio it shows the change, which is then complete). */
  async function accept(entry: Tracked, user: XUser | undefined, readAt = Date.now() + deps.processingDelayMs): Promise<void> {
    const driver = driverOf(entry.record);
    await note(entry, { state: 'accepted', acceptedAt: new Date().toISOString(), readAt });
    logger.info({ change: entry.record.id, userId: entry.record.userId, part: driver.part, origin: entry.record.origin.kind }, `${driver.part} change accepted by X`);
    if (!driver.processed && user) return complete(entry, user);
    if (user && entry.record.previousUrl === undefined) entry.record.previousUrl = driver.shown(user);
    scheduleRead(entry.record.id, readAt);
  }

  /** X refused the upload: nothing changed, so the record, and the original this change saved, go. */
  async function abandon(entry: Tracked, error: unknown): Promise<void> {
    tracked.delete(entry.record.id);
    entry.reject(error);
    const { userId, imageHash, savedOriginal } = entry.record;
    await historyOf(entry.record).discard(userId, { imageHash, ...(savedOriginal ? { original: true } : {}) }).catch((undo: unknown) =>
      logger.warn({ err: undo, userId }, 'could not undo a refused change'),
    );
    await journal.delete(entry.record).catch((undo: unknown) => logger.warn({ err: undo }, 'could not delete a refused change'));
  }

  // --- the reads -------------------------------------------------------------------------------

  function scheduleRead(id: string, at: number): void {
    due.set(id, at);
    waits.now = due.size + reads.active + reads.queued;
    waits.max = Math.max(waits.max, waits.now);
    armReads();
  }

  function armReads(): void {
    clearTimeout(readTimer);
    if (closed || due.size === 0) return;
    const next = Math.min(...due.values());
    readTimer = setTimeout(readDue, Math.max(0, next - Date.now()));
    readTimer.unref();
  }

  function readDue(): void {
    const now = Date.now();
    for (const [id, at] of due) {
      if (at > now) continue;
      due.delete(id);
      void reads.run(() => read(id)).finally(() => (waits.now = due.size + reads.active + reads.queued));
    }
    armReads();
  }

  async function read(id: string, attempt = 1): Promise<void> {
    const entry = tracked.get(id);
    if (!entry || closed) return;
    let user: XUser;
    try {
      user = await x.verifyCredentials(entry.account ?? (entry.account = await deps.vault.require(entry.record.userId)));
    } catch (error) {
      if (attempt >= RECORD_RETRY_ATTEMPTS || (error instanceof XApiError && error.kind === 'token-revoked')) {
        logger.error({ err: error, change: id }, 'could not read the final URL of a profile change');
        tracked.delete(id);
        return entry.reject(error);
      }
      return later(retryDelay(attempt), () => void reads.run(() => read(id, attempt + 1)));
    }
    if (!reached(user, entry.record) && entry.record.reads + 1 < MAX_READS) {
      const readAt = Date.now() + deps.processingDelayMs;
      await note(entry, { reads: entry.record.reads + 1, readAt });
      return scheduleRead(id, readAt);
    }
    await complete(entry, user);
  }

  // --- completion ------------------------------------------------------------------------------

  async function writeHistory(record: ChangeRecord, user: XUser): Promise<HistoryEntry | undefined> {
    const url400 = driverOf(record).shown(user);
    const history = historyOf(record);
    if (record.planned.op === 'append') return history.append(record.userId, { ...record.planned.entry, url400 });
    const { removeId, restoreId } = record.planned;
    const remaining = await history.updateEntries(
      record.userId,
      (current) => current.filter((entry) => entry.id !== removeId).map((entry) => (entry.id === restoreId ? { ...entry, url400 } : entry)),
      restoreId === undefined ? url400 : undefined, // the original applied again
    );
    return remaining.find((entry) => entry.id === restoreId);
  }

  function plannedEntry(record: ChangeRecord, user: XUser): HistoryEntry | undefined {
    return record.planned.op === 'append' ? { ...record.planned.entry, url400: driverOf(record).shown(user) } : undefined;
  }

  function appliedValue(entry: Tracked): Pick<AppliedChange, 'part' | 'value' | 'image'> {
    const { value } = entry;
    return { part: partOf(entry.record), value, ...(value !== 'none' && isImageValue(value) ? { image: value } : {}) };
  }

  async function handlerFor(kind: ChangeOrigin['kind']): Promise<RecoveredHandler | undefined> {
    if (!handlers.has(kind)) {
      // The bot registers its handlers right after the services are built: wait for it, briefly.
      await Promise.race([new Promise<void>((resolve) => handlerReady.set(kind, resolve)), sleep(30_000, undefined, { ref: false })]);
    }
    return handlers.get(kind);
  }

  /** The change is the next start's: its waiter is told so (ChangeDeferred) and this process does not complete it. */
  function defer(entry: Tracked): void {
    entry.deferred = true;
    entry.reject(new ChangeDeferred());
  }

  async function complete(entry: Tracked, user: XUser, attempt = 1): Promise<void> {
    const { record } = entry;
    const notes = record.originalNotSaved ? { originalNotSaved: record.originalNotSaved } : {};
    let historyEntry: HistoryEntry | undefined;
    try {
      historyEntry = await writeHistory(record, user);
      // Stopped during the read or this write: the waiter was told the next start completes it, so the journal
      // record stays for that start (which writes the same history entry in place and tells the origin). Deleting
      // it here left a scheduled change recorded nowhere but the history: the next start uploaded it again.
      if (entry.deferred) return;
    } catch (error) {
      // X changed the avatar: a failure to record it is reported as "changed, not recorded yet" and retried.
      if (attempt === 1) logger.warn({ err: error, userId: record.userId }, 'X changed the avatar but recording it failed; retrying');
      if (entry.waited) entry.resolve({ ...appliedValue(entry), user, entry: plannedEntry(record, user), ...notes, notRecorded: true });
      if (attempt >= RECORD_RETRY_ATTEMPTS) {
        tracked.delete(record.id);
        return logger.error({ err: error, userId: record.userId }, 'gave up recording an avatar change');
      }
      return later(retryDelay(attempt), () => void complete(entry, user, attempt + 1));
    }
    if (attempt > 1) logger.info({ userId: record.userId, attempt }, 'avatar change recorded after a store failure');
    const applied: AppliedChange = { ...appliedValue(entry), user, entry: historyEntry, ...notes };
    if (entry.waited) entry.resolve(applied);
    else {
      // Decided in this tick, with `pending`: the origin is told by exactly one of the handler or a joiner.
      entry.told = true;
      try {
        await (await handlerFor(record.origin.kind))?.(record, applied);
      } catch (error) {
        logger.warn({ err: error, change: record.id }, 'could not complete a recovered avatar change');
      }
      entry.resolve(applied);
    }
    tracked.delete(record.id);
    await journal.delete(record).catch((error: unknown) => logger.warn({ err: error, change: record.id }, 'could not delete a completed change'));
  }

  // --- recovery --------------------------------------------------------------------------------

  /** Finish a change found in the journal, from its state. */
  async function resume(entry: Tracked): Promise<void> {
    const { record } = entry;
    if (record.state === 'accepted') return scheduleRead(record.id, record.readAt ?? Date.now());
    const account = await deps.vault.require(record.userId);
    if (record.state === 'sending') {
      // The upload may have reached X before the process stopped: look before sending it again.
      const current = await reachedX(record, account);
      if (current) {
        logger.info({ change: record.id, userId: record.userId }, 'a recovered upload had reached X; not sending it again');
        await note(entry, { state: 'accepted', acceptedAt: new Date().toISOString() });
        return complete(entry, current);
      }
    }
    await send(entry, account);
  }

  /** Take over one change of a process that is gone, and finish it in the background. */
  async function adopt(found: ChangeRecord): Promise<boolean> {
    const record = { ...found, owner: journal.owner };
    await journal.update(record, {});
    const value = record.clear ? 'none' : record.text !== undefined ? { text: record.text } : await historyOf(record).image(record.userId, record.imageHash);
    if (!value) {
      logger.error({ change: record.id, userId: record.userId }, 'the image of an unfinished profile change is gone');
      await journal.delete(record);
      return false;
    }
    const entry = track(record, value, false);
    logger.info({ change: record.id, userId: record.userId, part: partOf(record), state: record.state, origin: record.origin.kind }, 'finishing a profile change from before a restart');
    const refused = (error: unknown) => error instanceof XApiError && (error.status ?? 0) >= 400 && error.kind !== 'transient' && error.kind !== 'rate-limited' && error.kind !== 'app-blocked';
    const attempt = async (tries: number): Promise<void> => {
      try {
        await resume(entry);
      } catch (error) {
        // A lock the stopped process held (15 s at most) or a store or X outage: try again, the change stays joinable.
        if (refused(error) || tries >= 6 || closed) throw error;
        logger.warn({ err: error, change: record.id }, 'finishing a recovered avatar change failed; trying again');
        await sleep(retryDelay(tries + 2), undefined, { ref: false });
        return attempt(tries + 1);
      }
    };
    void attempt(1).catch(async (error: unknown) => {
      logger.warn({ err: error, change: record.id }, 'a recovered avatar change failed');
      if (refused(error)) await abandon(entry, error);
      else {
        tracked.delete(record.id); // left in the journal for the next start
        entry.reject(error);
      }
    });
    return true;
  }

  return {
    async start(request) {
      const { userId, value } = request;
      const part = request.part ?? 'avatar';
      // Its part's history is read as it is once the part's earlier changes are recorded; other parts go on.
      await this.settled(userId, part);
      // Stored first, so a restart can upload it.
      const stored =
        value === 'none'
          ? { imageHash: '', clear: true as const }
          : isImageValue(value)
            ? { imageHash: await deps.histories[part].putImage(userId, value), format: value.format }
            : { imageHash: hashText(value.text), text: value.text };
      await ownership;
      const shown = request.shownBefore !== undefined ? { previousUrl: request.shownBefore } : {};
      const record = await journal.create({ userId, ...(part === 'avatar' ? {} : { part }), ...stored, ...shown, source: request.source, label: request.label, origin: request.origin, planned: request.planned });
      const entry = track(record, value, true);
      entry.account = request.account;
      if (request.prepared) takenPreparations.add(request.prepared); // from here a refusal (abandon) drops it
      try {
        await send(entry, request.account, request.prepared, request.uploadSlot);
      } catch (error) {
        await abandon(entry, error);
        throw error;
      }
      return { id: record.id, origin: record.origin, final: entry.final };
    },

    async prepareOriginal(userId, account, part = 'avatar') {
      const { original } = await deps.histories[part].get(userId);
      if (original) return { userId, part, savedOriginal: false };
      return { userId, part, savedOriginal: true, ...(await saveOriginal(userId, account, part)) };
    },

    async discardPrepared(prepared) {
      if (!prepared.savedOriginal || takenPreparations.has(prepared)) return;
      takenPreparations.add(prepared);
      const { userId } = prepared;
      const history = deps.histories[prepared.part];
      // A change of the user in progress (accepted, not yet recorded) may have found this original saved and rely on it.
      await this.settled(userId, prepared.part);
      const { original, entries } = await history.get(userId);
      if (entries.length > 0 || original?.savedAt !== prepared.savedAt) return;
      await history.discard(userId, { original: true });
    },

    async settled(userId, part) {
      const mine = tracked.ofUser(userId).filter((entry) => part === undefined || partOf(entry.record) === part);
      await Promise.allSettled(mine.map((entry) => entry.final));
    },

    pending(userId, matches) {
      const found = tracked.ofUser(userId).find((entry) => matches(entry.record.origin));
      if (!found) return undefined;
      if (found.told) return { id: found.record.id, origin: found.record.origin, final: found.final, told: true };
      found.waited = true; // its caller completes it now
      return { id: found.record.id, origin: found.record.origin, final: found.final };
    },

    async recover() {
      await ownership;
      const orphans = new Map<string, ChangeRecord[]>();
      for await (const record of journal.all()) {
        if (record.owner === journal.owner || tracked.has(record.id)) continue;
        orphans.set(record.owner, [...(orphans.get(record.owner) ?? []), record]);
      }
      let adopted = 0;
      for (const [owner, records] of orphans) {
        // Taken only when the owner no longer renews its lease: it stopped or died.
        const lease = await takeLease(deps.coordination, `changes-owner:${owner}`);
        if (!lease) continue;
        for (const found of records) {
          try {
            if (await adopt(found)) adopted++;
          } catch (error) {
            logger.error({ err: error, change: found.id }, 'could not take over an unfinished avatar change; it is tried again at the next start');
          }
        }
        lease.release();
      }
      return adopted;
    },

    onRecovered(kind, handler) {
      handlers.set(kind, handler);
      handlerReady.get(kind)?.();
    },

    get waits() {
      return { ...waits };
    },

    close() {
      closed = true;
      clearTimeout(readTimer);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // Nobody waits through a stop for X's processing: the journal keeps these for the next start.
      for (const entry of tracked.values()) defer(entry);
      tracked.clear();
    },
  };
}
