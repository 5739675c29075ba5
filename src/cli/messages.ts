/**
 * The CLI's own wording for the failures its `--discord-user` commands meet. The use cases throw the same
 * kinds to the bot and to the CLI; the bot's words name slash commands ("Use /twitter link first"), which
 * tell an operator at a terminal nothing: the terminal gets `cli.error.<kind>` (naming the CLI command and
 * the Discord user), else the edge-neutral `error.<kind>`, in English.
 */
import { UserFacingError } from '../errors.js';
import { errorWords } from '../i18n/render-error.js';

/** The same error (kind, cause, operator detail) worded for the terminal; anything else unchanged. Without
 *  `discordUserId` (the operator's own account) only words that need no Discord user apply. */
export function forTerminal(error: unknown, discordUserId?: string): unknown {
  if (!(error instanceof UserFacingError)) return error;
  const wording = errorWords(error, 'en-US', 'cli', discordUserId === undefined ? {} : { discordUserId });
  if (wording === error.userMessage) return error;
  const worded = new UserFacingError(error.kind, wording, { cause: error });
  // src/cli.ts prints an operator message (which key a damaged link needs) in preference to the user's.
  if ('operatorMessage' in error && typeof error.operatorMessage === 'string') Object.assign(worded, { operatorMessage: error.operatorMessage });
  return worded;
}
