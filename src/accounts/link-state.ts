/**
 * "Is this link broken?", decided here only. Every command (/avatar, /schedule writes, /library add,
 * /branding-consent, /twitter status and unlink), the CLI, a push's member list and the avatar changes ask
 * `linkState` and act on its answer, so a revoked or damaged link is reported the same way everywhere.
 *
 * A link is 'revoked' once X refused its token (the avatar changes and /twitter status mark it); it works
 * again only after the user links again. X is not asked here: that is /twitter status's job.
 */
import { AccountError } from './errors.js';
import { notLinked, VaultError, type LinkedAccount, type TokenVault } from './vault.js';

export type LinkState =
  | { state: 'linked'; account: LinkedAccount }
  /** X refused the token: kept (to revoke it at X on unlink) but not used for changes. */
  | { state: 'revoked'; account: LinkedAccount }
  | { state: 'not-linked' }
  /** The record does not open (a key this bot lacks, altered bytes); `error` carries the operator's detail. */
  | { state: 'damaged'; error: VaultError };

export type LinkStates = (discordUserId: string) => Promise<LinkState>;

/**
 * The one reading of a user's link. A damaged record is not logged here: an edge that fails on it logs it
 * with its error (bot replies), one that carries on says so in its own log (the bot) or terminal (the CLI).
 */
export function createLinkStates(vault: TokenVault): LinkStates {
  return async (discordUserId) => {
    let account: LinkedAccount | undefined;
    try {
      account = await vault.get(discordUserId);
    } catch (error) {
      if (!(error instanceof VaultError && error.kind === 'damaged-link')) throw error;
      return { state: 'damaged', error };
    }
    if (!account) return { state: 'not-linked' };
    return account.status === 'revoked' ? { state: 'revoked', account } : { state: 'linked', account };
  };
}

/** The error each edge words for a link that cannot be used: not linked, damaged, revoked. */
export function linkProblem(link: Exclude<LinkState, { state: 'linked' }>): VaultError | AccountError {
  switch (link.state) {
    case 'not-linked':
      return notLinked();
    case 'damaged':
      return link.error;
    case 'revoked':
      return new AccountError('link-revoked');
  }
}

/** The account of a link that works (to change an avatar, to add what a change will use); throws its problem otherwise. */
export function workingAccount(link: LinkState): LinkedAccount {
  if (link.state === 'linked') return link.account;
  throw linkProblem(link);
}

/** The stored account whatever X last said of it (to ask X again, or to revoke it); throws when there is none to read. */
export function storedAccount(link: LinkState): LinkedAccount {
  if (link.state === 'linked' || link.state === 'revoked') return link.account;
  throw linkProblem(link);
}
