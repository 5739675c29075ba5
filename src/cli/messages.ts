/**
 * The CLI's own wording for the failures its `--discord-user` commands meet. The use cases throw the same
 * kinds to the bot and to the CLI; their sentences speak to a Discord user ("Use /twitter link first"),
 * which tells an operator at a terminal nothing. Kinds not listed here carry no slash command and pass as
 * they are.
 */
import { UserFacingError } from '../errors.js';

type Wording = (discordUserId: string) => string;

const relink = (discordUserId: string) => `avatar-bot link --discord-user ${discordUserId}`;

const CLI_WORDING: Record<string, Wording> = {
  'not-linked': (id) => `Discord user ${id} has no linked X account. Link one with ${relink(id)}.`,
  'link-revoked': (id) => `The X link of Discord user ${id} was revoked or has expired. Link it again with ${relink(id)}.`,
  'token-revoked': (id) => `X refused the link of Discord user ${id}: it was revoked or has expired. Link it again with ${relink(id)}.`,
  'link-expired': (id) => `The X sign-in expired (it lasts 15 minutes) or was already used. Run ${relink(id)} again.`,
  'damaged-link': (id) => `The stored X link of Discord user ${id} cannot be read. Run avatar-bot unlink --discord-user ${id}, then ${relink(id)}.`,
};

/** The same error (kind, cause, operator detail) worded for the terminal; anything else unchanged. */
export function forTerminal(error: unknown, discordUserId: string): unknown {
  if (!(error instanceof UserFacingError)) return error;
  const wording = CLI_WORDING[error.kind];
  if (!wording) return error;
  const worded = new UserFacingError(error.kind, wording(discordUserId), { cause: error });
  // src/cli.ts prints an operator message (which key a damaged link needs) in preference to the user's.
  if ('operatorMessage' in error && typeof error.operatorMessage === 'string') Object.assign(worded, { operatorMessage: error.operatorMessage });
  return worded;
}
