/**
 * Every failure a user can meet is a value with a machine-readable `kind` (callers switch on it)
 * and a sentence that can be shown to the user as it is. Nothing secret goes into either.
 */
export class UserFacingError<K extends string = string> extends Error {
  readonly kind: K;
  readonly userMessage: string;

  constructor(kind: K, userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(options?.detail ? `${userMessage} (${options.detail})` : userMessage, { cause: options?.cause });
    this.kind = kind;
    this.userMessage = userMessage;
  }
}
