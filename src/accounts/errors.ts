import { UserFacingError, type ErrorParams } from '../errors.js';

/** Failures of the bot's own rules about accounts, links, history and previews. */
export const ACCOUNT_ERROR_KINDS = [
  'link-revoked',
  'link-expired',
  'invalid-pin', // X refused the PIN (it answers 401 to the access-token request): enter it again
  'pin-format', // not a PIN at all (letters, too short): refused before asking X
  'not-your-link',
  'nothing-to-revert',
  'preview-expired',
  'preview-used',
  'preview-replaced',
  'history-entry-gone',
  'already-current',
] as const;
export type AccountErrorKind = (typeof ACCOUNT_ERROR_KINDS)[number];

export class AccountError extends UserFacingError<AccountErrorKind> {
  /** For a PIN X refused or that is not a PIN: the sign-in it belongs to, so the reply can offer to enter it again. */
  readonly requestToken: string | undefined;

  constructor(kind: AccountErrorKind, params: ErrorParams = {}, options?: { cause?: unknown; detail?: string; variant?: string; requestToken?: string }) {
    super(kind, params, options);
    this.requestToken = options?.requestToken;
  }
}
