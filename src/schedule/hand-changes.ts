/**
 * Issue 12 item 4: an avatar the user changed by hand on X is not overwritten by a scheduled change.
 *
 * Before a scheduled change that sets the avatar, the avatar X shows is compared with the one the bot
 * applied last (the avatar history's top entry, or after a revert to the original the URL the original got);
 * `_normal`, `_400x400` and no suffix are one avatar. They differ, and the user did not accept X's avatar by
 * resuming: the schedule that wanted the change (or the default image) is paused, nothing is uploaded, and
 * the user is told once with a Resume button. `/schedule overwrite on` turns the check off.
 *
 * Reads: one verify_credentials before the upload of a checked change. A first change has nothing the bot
 * applied to compare with and is not checked (the pipeline reads the profile then anyway, to save the
 * original); a kit's name and bio are taken from the same read, not read again.
 *
 * What is checked: the avatar only. A kit's banner, name and bio are set as the kit says (the issue asks for
 * the avatar; restoring them after a kit already leaves a part changed since as it is, parts-transition.ts),
 * and a kit without an avatar is not checked. Team seasons are not checked: they are the server's branding,
 * which the member consented to and stops by withdrawing consent, as a push is not checked either.
 */
import { avatarStem } from '../changes/parts.js';
import type { UserHistory } from '../avatar/history.js';
import type { XUser } from '../x/client.js';
import type { ImageSource, SchedulePause } from './engine.js';
import type { ScheduleRecord } from './store.js';

/** What the Resume button and `/schedule resume` name for the default image (schedule ids are 6 hex digits). */
export const DEFAULT_IMAGE_ID = 'default';

export const sameAvatar = (a: string, b: string) => avatarStem(a) === avatarStem(b);

/** The avatar the bot applied last, as X showed it once applied; undefined before the bot's first change. */
export function botAvatar(history: UserHistory): string | undefined {
  return history.entries.at(-1)?.url400 ?? (history.original?.saved ? history.original.url : undefined);
}

export interface HandChangeDeps {
  /** The user's avatar history, once the avatar changes in progress here are recorded in it (a command's change
   *  X is processing would otherwise look like a hand change: X shows it, the history does not have it yet). */
  history(discordUserId: string): Promise<UserHistory>;
  /** The profile as X shows it now (verify_credentials). */
  readProfile(discordUserId: string): Promise<XUser>;
}

/**
 * `handChanged`: the avatar URL X shows when it is not the bot's (nor the one the user accepted); `profile`:
 * the profile read for it, to be used instead of another read. Neither on a first change (no read).
 */
export interface HandChangeLook {
  handChanged?: string;
  profile?: XUser;
}

export async function lookForHandChange(deps: HandChangeDeps, discordUserId: string, record: ScheduleRecord): Promise<HandChangeLook> {
  const applied = botAvatar(await deps.history(discordUserId));
  if (applied === undefined) return {};
  const profile = await deps.readProfile(discordUserId);
  const shown = profile.profileImage.size400;
  if (sameAvatar(shown, applied) || (record.acceptedAvatar !== undefined && sameAvatar(shown, record.acceptedAvatar))) return { profile };
  return { handChanged: shown, profile };
}

/** For the change's pipeline: what X showed before it (the read after the upload waits for another avatar). */
export const shownBefore = (looked: HandChangeLook): { shownBefore?: string } => (looked.profile ? { shownBefore: looked.profile.profileImage.size400 } : {});

/** The id the notice's Resume button carries for what wanted the change. */
export const pausedId = (source: ImageSource | undefined): string => (source && 'id' in source ? source.id : DEFAULT_IMAGE_ID);

/** Pause what wanted the change: its schedule, or the default image. */
export function pauseFor(draft: ScheduleRecord, source: ImageSource | undefined, pause: SchedulePause): void {
  const id = pausedId(source);
  if (id === DEFAULT_IMAGE_ID) draft.defaultPaused = pause;
  else {
    const schedule = draft.schedules.find((candidate) => candidate.id === id);
    if (schedule) schedule.paused = pause;
  }
}

/**
 * Resume a schedule (or `default`, the default image), however it was paused. Resuming a pause for a hand
 * change accepts the avatar X showed then: the next change may replace it (it is not asked about again).
 */
export function resumePaused(draft: ScheduleRecord, id: string): 'resumed' | 'not-paused' | 'not-found' {
  const schedule = draft.schedules.find((candidate) => candidate.id === id);
  if (!schedule && !(id === DEFAULT_IMAGE_ID && draft.defaultImage !== undefined)) return 'not-found';
  const pause = schedule ? schedule.paused : draft.defaultPaused;
  if (!pause) return 'not-paused';
  if (typeof pause === 'object') draft.acceptedAvatar = pause.url;
  if (schedule) delete schedule.paused;
  else delete draft.defaultPaused;
  return 'resumed';
}

/** `/schedule overwrite on`: what a hand change paused resumes too (the user said to overwrite). */
export function setOverwrite(draft: ScheduleRecord, on: boolean): void {
  if (!on) return void delete draft.overwriteHandChanges;
  draft.overwriteHandChanges = true;
  for (const schedule of draft.schedules) if (typeof schedule.paused === 'object') delete schedule.paused;
  delete draft.defaultPaused;
}
