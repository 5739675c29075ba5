/**
 * Why a scheduled change failed, as data: the scheduler stores it (the user's `lastRun`, a `pendingNotice`)
 * and sends it (a `failed` notice); the edges put it in the reader's words (`failureWords` in
 * src/i18n/schedule-words.ts), a DM in the user's last seen locale, `/schedule list` in the interaction's.
 * Records written before this was data hold an English sentence instead; it is shown as it is.
 */
import type { ErrorParams, UserFacingError } from '../errors.js';
import type { Rule } from './engine.js';

/** A UserFacingError as stored: its kind, variant and parameters (the words are the catalogue's). */
export interface StoredError {
  kind: string;
  variant?: string;
  params: ErrorParams;
}

export type ScheduleFailure =
  /** `rule` wants `image`, no longer in the user's library: that schedule is paused. */
  | { kind: 'image-missing'; rule: Rule; image: string }
  /** The team season wants `image`, which the server's admins removed: the avatar is left as it is. */
  | { kind: 'team-image-missing'; rule: Rule; image: string }
  /** The X link was revoked or removed: every schedule is suspended until the user links again. */
  | { kind: 'link-revoked' }
  /** X rate-limited the account: retried later (`error` is X's rate-limit error). */
  | { kind: 'rate-limited'; error: StoredError }
  /** Issue 12: the avatar on X was changed by hand since the bot's last change: `schedule` (an id, or `default`)
   *  is paused and `image` was not uploaded (see hand-changes.ts). */
  | { kind: 'hand-changed'; rule: Rule; image: string; schedule: string }
  /** The change to `image` by `rule` failed: `error` says why, none for an internal error (logged). */
  | { kind: 'change-failed'; rule: Rule; image: string; error?: StoredError };

export const storedError = (error: UserFacingError): StoredError => ({
  kind: error.kind,
  ...(error.variant === undefined ? {} : { variant: error.variant }),
  params: { ...error.params },
});
