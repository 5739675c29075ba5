/**
 * A scheduled change of several parts of a profile: a kit (any of avatar, banner, name, bio), or an image
 * after a kit (the avatar, and every other part the kit changed restored). Per part the record remembers
 * what the kits changed (`HeldParts`): the history entries they added and, for a name or bio, the text X
 * showed before the first kit, so the end of a season restores the value from before, not a guess.
 *
 * Part by part, as each completes, the record's `changing` says what is done: a retry after a rate limit,
 * a restart or another process continues the change and does no part twice. A part is also found done
 * from its history (its top entry holds the value already), which covers a change the journal finished
 * after a restart. A part changed since by someone else (a /banner, a rename on X) is left as it is.
 */
import type { AppliedChange, StartedChange } from '../changes/pipeline.js';
import type { AvatarChanges, PartValues } from '../avatar/changes.js';
import type { ChangeOrigin } from '../changes/journal.js';
import { hashImage, hashText } from '../avatar/history.js';
import { isImageValue, type PartValue } from '../changes/parts.js';
import { PROFILE_PARTS, type ProfilePart, type TextPart } from '../profile/parts.js';
import type { XUser } from '../x/client.js';
import type { HeldPart, HeldParts, ScheduleRecord, ScheduleStore } from './store.js';

export interface PartsTransitionDeps {
  avatars: Pick<AvatarChanges, 'beginRevert' | 'partHistory' | 'pending'>;
  schedules: ScheduleStore;
  /** The profile as X shows it now (a name or bio to remember, or to compare before restoring). */
  readProfile(discordUserId: string): Promise<XUser>;
}

export interface PartsChange {
  target: string;
  /** What the target sets: an image the avatar only, a kit its parts. */
  values: PartValues;
  /** A kit: the parts it sets are remembered to be restored later (an image's avatar is not). */
  kit: boolean;
  origin: Extract<ChangeOrigin, { kind: 'schedule' }>;
  /** Begins one part's change (the caller adds its source, label, upload slot). */
  begin(part: ProfilePart, value: PartValue): Promise<StartedChange>;
  /** Every part's change has been begun: a catch-up lane may take the next user. */
  begun?(): void;
  /** The profile read just before (the hand-change check): its name and bio are used, not read again. */
  profile?: XUser;
}

export interface PartsChanged {
  /** The parts the target sets, and those put back as they were before the kits. */
  changed: ProfilePart[];
  restored: ProfilePart[];
  /** The avatar change, when the target sets the avatar. */
  avatar?: AppliedChange;
  held: HeldParts;
}

const textOf = (user: XUser, part: TextPart) => (part === 'name' ? user.name : (user.description ?? ''));
const hashOf = (value: PartValue) => (isImageValue(value) ? hashImage(value.data) : hashText(value.text));

/** Call under the transition's lease. */
export async function changeParts(deps: PartsTransitionDeps, discordUserId: string, record: ScheduleRecord, change: PartsChange): Promise<PartsChanged> {
  const { avatars, schedules } = deps;
  const { target, values } = change;
  // Wait for this target's changes the journal is finishing after a restart: their parts are then found done below.
  for (let joined = avatars.pending(discordUserId, (origin) => origin.kind === 'schedule' && origin.target === target); joined; ) {
    await joined.final.catch(() => undefined);
    joined = avatars.pending(discordUserId, (origin) => origin.kind === 'schedule' && origin.target === target);
  }
  let resumed = false as boolean;
  const current = await schedules.update(discordUserId, (draft) => {
    resumed = draft.changing?.target === target;
    if (resumed) return;
    // A change to another target that did not finish: the parts it made are held all the same.
    draft.changing = { target, done: [], parts: structuredClone(draft.changing?.parts ?? draft.applied?.parts ?? {}) };
  });
  const changing = current.changing!;
  const held = changing.parts;
  const setting = PROFILE_PARTS.filter((part) => values[part] !== undefined);
  const restoring = PROFILE_PARTS.filter((part) => held[part] !== undefined && values[part] === undefined);
  const todo = (part: ProfilePart) => !changing.done.includes(part);

  /** One part done: the record says so at once (a restart continues from here). */
  const done = (part: ProfilePart, state: HeldPart | undefined) =>
    schedules.update(discordUserId, (draft) => {
      if (draft.changing?.target !== target) return;
      draft.changing.done.push(part);
      if (state) draft.changing.parts[part] = state;
      else delete draft.changing.parts[part];
    });

  // X's name and bio are read once, before anything changes them.
  const needsText = [...setting.filter((part) => change.kit && !held[part]), ...restoring].some((part) => (part === 'name' || part === 'bio') && todo(part));
  const profile = needsText ? (change.profile ?? (await deps.readProfile(discordUserId))) : undefined;

  let avatar: AppliedChange | undefined;
  const finals: Array<Promise<void>> = [];
  try {
    for (const part of setting.filter(todo)) {
      const value = values[part]!;
      const before = held[part];
      const state = (entryId: string | undefined): HeldPart | undefined => {
        if (!change.kit) return undefined; // an image's avatar is not restored later
        const text = before?.text ?? (profile && (part === 'name' || part === 'bio') ? textOf(profile, part) : undefined);
        return { entries: [...(before?.entries ?? []), ...(entryId ? [entryId] : [])], ...(text !== undefined ? { text } : {}) };
      };
      // Made already by an attempt before this one (a restart finished it): its entry is on top.
      const top = resumed ? (await avatars.partHistory(discordUserId, part)).entries.at(-1) : undefined;
      if (top && top.hash === hashOf(value) && !before?.entries.includes(top.id)) {
        await done(part, state(top.id));
        continue;
      }
      const started = await change.begin(part, value);
      const final = started.final.then(async (applied) => {
        if (part === 'avatar') avatar = applied;
        await done(part, state(applied.entry?.id));
      });
      final.catch(() => undefined); // read below, once every part is begun
      finals.push(final);
    }
    change.begun?.();
    await Promise.all(finals);
  } finally {
    await Promise.allSettled(finals); // parts X accepted are recorded even when a later one failed
  }

  const restored: ProfilePart[] = [];
  for (const part of restoring.filter(todo)) {
    if (await restore(deps, discordUserId, part, held[part]!, profile, change)) restored.push(part);
    await done(part, undefined);
  }
  // Parts restored by an attempt before this one count as restored too.
  for (const part of restoring) if (!todo(part)) restored.push(part);

  const finished = await schedules.get(discordUserId);
  return { changed: setting, restored: PROFILE_PARTS.filter((part) => restored.includes(part)), ...(avatar ? { avatar } : {}), held: finished.changing?.target === target ? finished.changing.parts : held };
}

/**
 * Puts one part back as it was before the kits: their entries undone while on top (the entry below, or the
 * original: no banner, an empty bio), or for a name or bio the text X showed before. False when the part
 * was changed since by something else, and is left as it is.
 */
async function restore(deps: PartsTransitionDeps, discordUserId: string, part: ProfilePart, state: HeldPart, profile: XUser | undefined, change: PartsChange): Promise<boolean> {
  const { avatars } = deps;
  const { origin } = change;
  const history = await avatars.partHistory(discordUserId, part);
  const top = history.entries.at(-1);
  if (!top || !state.entries.includes(top.id)) return false; // changed since through the bot
  if (part === 'name' || part === 'bio') {
    if (profile && textOf(profile, part) !== top.text) return false; // renamed on X by hand since
    const below = history.entries.at(-2);
    const original = history.original?.saved ? ('none' in history.original ? '' : history.original.text) : undefined;
    const belowText = below ? below.text : original;
    if (state.text === undefined || (state.entries.length === 1 && belowText === state.text)) {
      await (await avatars.beginRevert(discordUserId, origin, part)).final;
      return true;
    }
    // The text from before is not what a revert gives (X showed another one then): it is set as it was.
    await (await change.begin(part, { text: state.text })).final;
    return true;
  }
  // An image: the kits' entries undone newest first (two kits in a row left two).
  for (let undone = 0; undone < state.entries.length; undone++) {
    const now = (await avatars.partHistory(discordUserId, part)).entries.at(-1);
    if (!now || !state.entries.includes(now.id)) break;
    await (await avatars.beginRevert(discordUserId, origin, part)).final;
  }
  return true;
}
