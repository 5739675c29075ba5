import { UserFacingError } from './errors.js';

/** Failures of the bot's own rules about accounts, links, history and previews. */
export type AccountErrorKind =
  | 'link-revoked'
  | 'link-expired'
  | 'invalid-pin'
  | 'not-your-link'
  | 'nothing-to-revert'
  | 'preview-expired'
  | 'preview-used'
  | 'preview-replaced'
  | 'history-entry-gone'
  | 'already-current';

export class AccountError extends UserFacingError<AccountErrorKind> {}
