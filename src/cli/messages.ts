/**
 * The CLI's own wording for the failures its `--discord-user` commands meet. The use cases throw the same
 * kinds to the bot and to the CLI; their sentences speak to a Discord user ("Use /twitter link first"),
 * which tells an operator at a terminal nothing. Kinds not listed here carry no slash command and pass as
 * they are.
 */
import { UserFacingError } from '../errors.js';
import { lookup } from '../i18n/t.js';

type Wording = (discordUserId: string) => string;

const relink = (discordUserId: string) => `avatar-bot link --discord-user ${discordUserId}`;

const CLI_WORDING: Record<string, Wording> = {
  'link-revoked': (id) => `The X link of Discord user ${id} was revoked or has expired. Link it again with ${relink(id)}.`,
  'token-revoked': (id) => `X refused the link of Discord user ${id}: it was revoked or has expired. Link it again with ${relink(id)}.`,
  'link-expired': (id) => `The X sign-in expired (it lasts 15 minutes) or was already used. Run ${relink(id)} again.`,
};

/** The same error (kind, cause, operator detail) worded for the terminal; anything else unchanged. */
export function forTerminal(error: unknown, discordUserId: string): unknown {
  if (!(error instanceof UserFacingError)) return error;
  const catalogued = lookup('en-US', `cli.error.${error.kind}`, { ...error.params, discordUserId });
  const wording = catalogued ?? CLI_WORDING[error.kind]?.(discordUserId);
  if (!wording) return error;
  const worded = new UserFacingError(error.kind, wording, { cause: error });
  // src/cli.ts prints an operator message (which key a damaged link needs) in preference to the user's.
  if ('operatorMessage' in error && typeof error.operatorMessage === 'string') Object.assign(worded, { operatorMessage: error.operatorMessage });
  return worded;
}
