/**
 * Every failure a user can meet is a value with a machine-readable `kind` (callers switch on it) and the
 * parameters its words need (`{ retryAt }`, `{ name }`). The words are not here: each edge renders the kind
 * for its audience from the catalogues (src/i18n, `errorWords`): the bot in the user's language with the
 * slash command to run and the button to press (`failureReply` in src/bot/replies.ts), the CLI for a
 * terminal with the CLI command to run (src/cli/messages.ts). Nothing secret goes into either.
 *
 * The core and the bot build errors from a kind and parameters only (test/i18n/errors.test.ts scans the
 * core for sentences); the CLI's usage errors still carry an English sentence (a terminal's words), shown
 * when the catalogue has no words for their kind.
 */
import { formatParams } from './i18n/render-error.js';
import { lookup } from './i18n/t.js';

export type ErrorParams = Readonly<Record<string, string | number>>;

/** An error as a record keeps it (a reason shown later, in the reader's language): its kind, variant and parameters. */
export interface ErrorRecord {
  kind: string;
  variant?: string;
  params: ErrorParams;
}

/** A reason kept by the store: an error record, or English words kept by code from before there were records. */
export type StoredReason = string | ErrorRecord;

/** A stored reason as the parameters of another error (`reasonKind`, `reasonVariant`, `reason.<name>`): its edge
 *  words it as `reason` (formatParams), in the reader's language. */
export function reasonParams(reason: StoredReason): ErrorParams {
  if (typeof reason === 'string') return { reason: reason.replace(/[.。]$/, '') };
  const nested = Object.fromEntries(Object.entries(reason.params).map(([name, value]) => [`reason.${name}`, value]));
  return { reasonKind: reason.kind, ...(reason.variant === undefined ? {} : { reasonVariant: reason.variant }), ...nested };
}

export const errorRecord = (error: UserFacingError): ErrorRecord => ({ kind: error.kind, ...(error.variant === undefined ? {} : { variant: error.variant }), params: error.params });

export class UserFacingError<K extends string = string> extends Error {
  readonly kind: K;
  /**
   * Which of the kind's sentences, where one kind (what callers switch on) has several (`invalid-date` of a
   * month-day, of a date and time, …): the words are `error.<kind>.<variant>`, else `error.<kind>`.
   */
  readonly variant: string | undefined;
  readonly params: ErrorParams;
  /** English, for logs and for the edges' fallback; never shown in place of the catalogue's words. */
  readonly userMessage: string;

  constructor(kind: K, paramsOrSentence: ErrorParams | string = {}, options?: { cause?: unknown; detail?: string; variant?: string }) {
    const params = typeof paramsOrSentence === 'string' ? {} : paramsOrSentence;
    const variant = options?.variant;
    const words = formatParams(params, 'en-US');
    const english =
      typeof paramsOrSentence === 'string'
        ? paramsOrSentence
        : ((variant === undefined ? undefined : lookup('en-US', `error.${kind}.${variant}`, words)) ?? lookup('en-US', `error.${kind}`, words) ?? kind);
    super(options?.detail ? `${english} (${options.detail})` : english, { cause: options?.cause });
    this.kind = kind;
    this.variant = variant;
    this.params = params;
    this.userMessage = english;
  }
}
