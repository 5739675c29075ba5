/**
 * Linking a Discord user to an X account with 3-legged OAuth 1.0a: the PIN flow always, the callback
 * flow when the bot has a public URL. A pending request token is bound to the Discord user who asked,
 * kept (sealed) for 15 minutes, and completes a link for that user only, once. In the callback flow the
 * browser X sends back must prove it is that Discord user (the HTTP edge signs it in with Discord)
 * before the link completes: a forwarded "Authorise on X" link links nobody's account to the sender.
 */
import { createHash } from 'node:crypto';
import type Keyv from 'keyv';
import { AccountError } from './errors.js';
import type { KeyedLock } from '../coordination/keyed-lock.js';
import type { SecretBox } from '../store/cipher.js';
import type { Store } from '../store/backend.js';
import { whyUnopened, type LinkedAccount, type RotationReport, type TokenVault, type VaultError } from './vault.js';
import { createLinkStates, storedAccount, workingAccount, type LinkState, type LinkStates } from './link-state.js';
import { createBrowserSignIns, type ProvenIdentity, type SignIn } from './browser-sign-ins.js';
import type { XClient, XUser } from '../x/client.js';
import { XApiError } from '../x/errors.js';
import type { Locale } from '../i18n/locale.js';

export const PENDING_LINK_TTL_MS = 15 * 60_000;
/** The keyv namespaces whose entries expire; the sweeper deletes them on SQLite and PostgreSQL. */
export const PENDING_LINK_NAMESPACES = ['pending-links', 'pending-link-index'];

/** Where to confirm a callback-flow link in Discord: the interaction that started it. */
export interface LinkReplyTarget {
  applicationId: string;
  interactionToken: string;
  /** The language of that interaction: the message it gets later is in it too. */
  locale?: Locale;
}

interface PendingLink {
  discordUserId: string;
  secret: string; // sealed request token secret
  flow: 'pin' | 'callback';
  replyTarget?: string; // sealed JSON LinkReplyTarget
  verifier?: string; // sealed; set once when X sends the browser back (callback flow)
  createdAt: string;
}

export interface StartedLink {
  authorizeUrl: string;
  requestToken: string;
}

export interface LinkHealth {
  account: LinkedAccount;
  /** 'ok': X accepted the token just now; 'revoked': X refused it; 'unknown': X could not be asked. */
  health: 'ok' | 'revoked' | 'unknown';
  user?: XUser;
  /** Why the health is not 'ok': X's answer as an error value, worded by each edge in its reader's language. */
  problem?: XApiError;
}

export interface AccountLinks {
  start(discordUserId: string, flow: 'pin' | 'callback', replyTarget?: LinkReplyTarget): Promise<StartedLink>;
  completeWithPin(discordUserId: string, requestToken: string, pin: string): Promise<LinkedAccount>;
  /**
   * X sent a browser back with the verifier: keep it (once) with the pending link, and begin the browser's
   * sign-in with Discord (which Discord user must prove it is them): its single-use token and cookie.
   */
  acceptCallback(requestToken: string, verifier: string): Promise<{ discordUserId: string; token: string; cookie: string }>;
  /** The browser's sign-in a single-use token names at `stage`, taken once, for the browser that began it only. */
  takeSignIn(token: string, stage: 'discord' | 'confirm', cookie: string | undefined): Promise<SignIn | 'expired' | 'other-browser'>;
  /** Discord said who signed in as the user who started it: the confirm step's single-use token. */
  proveSignIn(signIn: SignIn, who: ProvenIdentity): Promise<string>;
  /** The browser confirmed as its proven Discord user: the link completes only for the user who started it; anyone else drops it. */
  completeSignIn(signIn: SignIn): Promise<{ discordUserId: string; account: LinkedAccount; replyTarget?: LinkReplyTarget }>;
  /** Drop a sign-in's pending link (the browser belonged to someone else, or declined). */
  cancelSignIn(signIn: SignIn): Promise<void>;
  /** What state the user's link is in: the one answer every edge acts on (see link-state.ts). */
  state: LinkStates;
  /** The account of a link that works; throws the kind of its problem (not linked, damaged, revoked) otherwise. */
  requireWorking(discordUserId: string): Promise<LinkedAccount>;
  status(discordUserId: string): Promise<LinkHealth>;
  /** Revoke at X (best effort) and delete locally; `revokedAtX` says whether X agreed. A damaged record
   *  (no `account`) is deleted here; X cannot be told, since its token cannot be read. */
  /** `problem`: why X was not told (its refusal, or a stored link that cannot be read); worded by the edge. */
  unlink(discordUserId: string): Promise<{ account?: LinkedAccount; revokedAtX: boolean; problem?: XApiError | VaultError }>;
}

export interface AccountLinksDeps {
  store: Store;
  vault: TokenVault;
  box: SecretBox;
  x: XClient;
  /** Base URL for the callback flow; without it only the PIN flow is offered. */
  publicUrl: string | undefined;
  tokenLock: KeyedLock;
  /** The one reading of a link (link-state.ts); read without logging when not given. */
  linkState?: LinkStates;
  /** Called after a successful unlink to delete what else the bot keeps for the user. */
  forgetUser(discordUserId: string): Promise<void>;
  /** Called after a link completes (schedules paused by a revoked link resume). */
  onLinked?(discordUserId: string): Promise<void>;
}

const notYours = () =>
  new AccountError('not-your-link', {}, { variant: 'callback' });

const expired = () => new AccountError('link-expired');

/**
 * A pending sign-in is stored under a digest of its request token, never the token itself: keys are not
 * sealed, and SQLite's write-ahead log keeps old pages (with deleted keys) until a checkpoint. The token is
 * X's random value, so its SHA-256 cannot be reversed; it needs no key, so a key rotation keeps the keys.
 */
export const pendingKey = (requestToken: string) => createHash('sha256').update(requestToken).digest('base64url');
const pendingContext = (key: string) => `pending-links:${key}`;
const SEALED_PENDING_FIELDS = ['secret', 'replyTarget', 'verifier'] as const;

/** A pending value that does not open (a key removed too early, altered): the user starts again; the cause is for the log. */
function openPending(box: SecretBox, sealed: string, requestToken: string): string {
  try {
    return box.open(sealed, pendingContext(pendingKey(requestToken)));
  } catch (error) {
    throw new AccountError('link-expired', {}, { variant: 'unreadable', cause: error, detail: whyUnopened(error) });
  }
}

/**
 * Re-seal every pending sign-in link (request token secret and reply target) under the current key,
 * keeping its expiry; for `avatar-bot rotate-key`. One that does not open is skipped and reported.
 */
export async function rotatePendingLinks(store: Store, box: SecretBox): Promise<RotationReport> {
  const pending = store.namespace<PendingLink>('pending-links');
  const report: RotationReport = { rewritten: 0, alreadyCurrent: 0, skipped: [] };
  if (!pending.iterator) throw new Error(`the ${store.kind} store cannot list its keys`);
  const keys: string[] = [];
  for await (const [key] of pending.iterator(pending.namespace) as AsyncGenerator<[string, unknown]>) keys.push(key);
  for (const key of keys) {
    const raw = await pending.getRaw(key);
    const link = raw?.value;
    if (!link) continue;
    // Every sealed field of the record: the request token secret, the reply target, the verifier.
    const fields = SEALED_PENDING_FIELDS.filter((field) => link[field] !== undefined);
    const sealed = fields.map((field) => link[field]!);
    try {
      const opened = sealed.map((value) => box.open(value, pendingContext(key)));
      if (sealed.every((value) => box.keyIdOf(value) === box.currentKeyId)) {
        report.alreadyCurrent++;
        continue;
      }
      const resealed = Object.fromEntries(fields.map((field, index) => [field, box.seal(opened[index]!, pendingContext(key))]));
      const ttl = typeof raw.expires === 'number' ? raw.expires - Date.now() : undefined;
      if (ttl !== undefined && ttl <= 0) continue;
      await pending.set(key, { ...link, ...resealed }, ttl);
      report.rewritten++;
    } catch (error) {
      report.skipped.push({ discordUserId: link.discordUserId, reason: whyUnopened(error) });
    }
  }
  return report;
}

export function createAccountLinks(deps: AccountLinksDeps): AccountLinks {
  const { vault, box, x } = deps;
  const linkState = deps.linkState ?? createLinkStates(vault);
  const signIns = createBrowserSignIns(deps.store, box);
  const stored: Keyv<PendingLink> = deps.store.namespace<PendingLink>('pending-links');
  /** The pending records, by request token (stored under its digest). */
  const pending = {
    get: (requestToken: string) => stored.get(pendingKey(requestToken)),
    set: (requestToken: string, link: PendingLink, ttl: number) => stored.set(pendingKey(requestToken), link, ttl),
    delete: (requestToken: string) => stored.delete(pendingKey(requestToken)),
  };
  /** Each user's one pending sign-in (its record key): a new /twitter link replaces the previous one. */
  const pendingOf: Keyv<string> = deps.store.namespace<string>('pending-link-index');
  const context = (requestToken: string) => pendingContext(pendingKey(requestToken));

  /** A used or abandoned request token leaves nothing behind: its record and the user's index entry. */
  async function forgetPending(requestToken: string, discordUserId: string): Promise<void> {
    await pending.delete(requestToken);
    if ((await pendingOf.get(discordUserId)) === pendingKey(requestToken)) await pendingOf.delete(discordUserId);
  }

  /** Exchange the verifier; the pending token is consumed only when X accepts it. */
  async function complete(requestToken: string, link: PendingLink, verifier: string): Promise<LinkedAccount> {
    const secret = openPending(box, link.secret, requestToken);
    const granted = await x.accessToken({ token: requestToken, secret }, verifier);
    await forgetPending(requestToken, link.discordUserId);
    const account = await vault.save(link.discordUserId, { xUserId: granted.userId, screenName: granted.screenName, token: granted.token, secret: granted.secret });
    await deps.onLinked?.(link.discordUserId);
    return account;
  }

  function acceptCallback(requestToken: string, verifier: string): Promise<{ discordUserId: string }> {
    return deps.tokenLock.run(requestToken, async () => {
      const link = await pending.get(requestToken);
      // A verifier already kept means this callback URL was opened before: it works once.
      if (!link || link.flow !== 'callback' || link.verifier) throw expired();
      const remainingMs = Date.parse(link.createdAt) + PENDING_LINK_TTL_MS - Date.now();
      if (!(remainingMs > 0)) throw expired();
      await pending.set(requestToken, { ...link, verifier: box.seal(verifier, context(requestToken)) }, remainingMs);
      return { discordUserId: link.discordUserId };
    });
  }

  /** The browser proved it is `provenDiscordUserId`: the link completes only for the user who started it; anyone else drops it. */
  function completeCallback(requestToken: string, provenDiscordUserId: string): Promise<{ discordUserId: string; account: LinkedAccount; replyTarget?: LinkReplyTarget }> {
    return deps.tokenLock.run(requestToken, async () => {
      const link = await pending.get(requestToken);
      if (!link || link.flow !== 'callback' || !link.verifier) throw expired();
      if (link.discordUserId !== provenDiscordUserId) {
        await forgetPending(requestToken, link.discordUserId);
        throw notYours();
      }
      const account = await complete(requestToken, link, openPending(box, link.verifier, requestToken));
      const replyTarget = link.replyTarget ? (JSON.parse(openPending(box, link.replyTarget, requestToken)) as LinkReplyTarget) : undefined;
      return { discordUserId: link.discordUserId, account, ...(replyTarget ? { replyTarget } : {}) };
    });
  }

  async function cancelCallback(requestToken: string): Promise<void> {
    await deps.tokenLock.run(requestToken, async () => {
      const link = await pending.get(requestToken);
      if (link?.flow === 'callback') await forgetPending(requestToken, link.discordUserId);
    });
  }

  return {
    async start(discordUserId, flow, replyTarget) {
      if (flow === 'callback' && !deps.publicUrl) throw new Error('the callback flow needs PUBLIC_URL');
      const callback = flow === 'pin' ? 'oob' : `${deps.publicUrl}/oauth/callback`;
      const requestToken = await x.requestToken(callback);
      const previous = await pendingOf.get(discordUserId);
      if (previous !== undefined && previous !== pendingKey(requestToken.token)) await stored.delete(previous);
      await pendingOf.set(discordUserId, pendingKey(requestToken.token), PENDING_LINK_TTL_MS);
      await pending.set(
        requestToken.token,
        {
          discordUserId,
          secret: box.seal(requestToken.secret, context(requestToken.token)),
          flow,
          ...(replyTarget ? { replyTarget: box.seal(JSON.stringify(replyTarget), context(requestToken.token)) } : {}),
          createdAt: new Date().toISOString(),
        },
        PENDING_LINK_TTL_MS,
      );
      return { authorizeUrl: x.authorizeUrl(requestToken.token), requestToken: requestToken.token };
    },

    completeWithPin(discordUserId, requestToken, pin) {
      return deps.tokenLock.run(requestToken, async () => {
        const link = await pending.get(requestToken);
        if (!link || link.flow !== 'pin') throw expired();
        if (link.discordUserId !== discordUserId) {
          throw new AccountError('not-your-link');
        }
        if (!/^\d{4,10}$/.test(pin.trim())) throw new AccountError('pin-format', {}, { requestToken });
        try {
          return await complete(requestToken, link, pin.trim());
        } catch (error) {
          // X answers 401 to the access-token request when the PIN is wrong; the sign-in itself stays pending.
          if (error instanceof XApiError && error.status === 401) throw new AccountError('invalid-pin', {}, { cause: error, requestToken });
          throw error;
        }
      });
    },

    async acceptCallback(requestToken, verifier) {
      const { discordUserId } = await acceptCallback(requestToken, verifier);
      return { discordUserId, ...(await signIns.open(requestToken, discordUserId)) };
    },

    takeSignIn: (token, stage, cookie) => signIns.take(token, stage, cookie),
    proveSignIn: (signIn, who) => signIns.proven(signIn, who),
    completeSignIn: (signIn) => completeCallback(signIns.requestTokenOf(signIn), signIn.proven!.id),
    cancelSignIn: (signIn) => cancelCallback(signIns.requestTokenOf(signIn)),
    state: linkState,
    requireWorking: async (discordUserId) => workingAccount(await linkState(discordUserId)),

    async status(discordUserId) {
      const account = storedAccount(await linkState(discordUserId));
      try {
        const user = await x.verifyCredentials(account);
        if (account.status !== 'active') await vault.setStatus(discordUserId, 'active');
        return { account: { ...account, status: 'active' }, health: 'ok', user };
      } catch (error) {
        if (!(error instanceof XApiError)) throw error;
        if (error.kind === 'token-revoked') {
          await vault.setStatus(discordUserId, 'revoked');
          return { account: { ...account, status: 'revoked' }, health: 'revoked', problem: error };
        }
        return { account, health: 'unknown', problem: error };
      }
    },

    async unlink(discordUserId) {
      const link: LinkState = await linkState(discordUserId);
      if (link.state === 'damaged') {
        // The token cannot be read, so X cannot be asked to revoke it; the record still goes.
        await deps.forgetUser(discordUserId);
        await vault.delete(discordUserId);
        return { revokedAtX: false, problem: link.error };
      }
      const account = storedAccount(link);
      let revokedAtX = true;
      let problem: XApiError | undefined;
      try {
        await x.invalidateToken(account);
      } catch (error) {
        // Unlinking must work even when X refuses: the local copy goes either way.
        if (!(error instanceof XApiError)) throw error;
        revokedAtX = false;
        problem = error;
      }
      await deps.forgetUser(discordUserId);
      await vault.delete(discordUserId);
      return { account, revokedAtX, ...(problem ? { problem } : {}) };
    },
  };
}
