/**
 * The browser's side of a callback-flow link, between X sending it back and the user confirming: who must
 * sign in with Discord, and which browser is doing it. Records live in the store (`link-sign-ins`) for 10
 * minutes under a hash of a single-use token, so several bot processes can serve one flow; the tokens and
 * the cookie travel only in the browser. X's request token is kept sealed: a key is not, and SQLite's
 * write-ahead log keeps deleted rows for a while.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Keyv from 'keyv';
import type { SecretBox } from '../store/cipher.js';
import type { Store } from '../store/backend.js';

export const SIGN_IN_TTL_MS = 10 * 60_000;

/** Who signed in with Discord in that browser (as Discord says). */
export interface ProvenIdentity {
  id: string;
  username: string;
  globalName: string | null;
}

interface StoredSignIn {
  /** X's request token, sealed. */
  requestToken: string;
  /** The Discord user who ran /twitter link. */
  discordUserId: string;
  /** sha256 of the cookie set on the browser that X sent back. */
  browser: string;
  stage: 'discord' | 'confirm';
  proven?: ProvenIdentity;
}

/** A sign-in taken by its token: what the HTTP edge may read. The request token stays sealed inside. */
export interface SignIn {
  readonly discordUserId: string;
  readonly proven?: ProvenIdentity;
  readonly record: StoredSignIn;
}

export interface BrowserSignIns {
  /** A new sign-in for the browser X sent back: its single-use token (the Discord OAuth state) and the cookie binding the next steps to that browser. */
  open(requestToken: string, discordUserId: string): Promise<{ token: string; cookie: string }>;
  /** The sign-in `token` names at `stage`, taken once, if `cookie` is the browser's that began it. */
  take(token: string, stage: StoredSignIn['stage'], cookie: string | undefined): Promise<SignIn | 'expired' | 'other-browser'>;
  /** Discord said who signed in: the confirm step's single-use token. */
  proven(signIn: SignIn, who: ProvenIdentity): Promise<string>;
  /** X's request token of a taken sign-in. */
  requestTokenOf(signIn: SignIn): string;
}

const newToken = () => randomBytes(32).toString('base64url');
const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

export function createBrowserSignIns(store: Store, box: SecretBox): BrowserSignIns {
  const records: Keyv<StoredSignIn> = store.namespace<StoredSignIn>('link-sign-ins');
  const sealContext = (discordUserId: string) => `link-sign-ins:${discordUserId}`;

  const sameBrowser = (cookie: string | undefined, record: StoredSignIn) => {
    if (!cookie) return false;
    const presented = Buffer.from(digest(cookie));
    const expected = Buffer.from(record.browser);
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  };

  return {
    async open(requestToken, discordUserId) {
      const token = newToken();
      const cookie = newToken();
      await records.set(digest(token), { requestToken: box.seal(requestToken, sealContext(discordUserId)), discordUserId, browser: digest(cookie), stage: 'discord' }, SIGN_IN_TTL_MS);
      return { token, cookie };
    },

    async take(token, stage, cookie) {
      const record = await records.get(digest(token));
      if (!record || record.stage !== stage || (stage === 'confirm' && !record.proven)) return 'expired';
      // Another browser holding the token (a forwarded link) neither uses nor spends it.
      if (!sameBrowser(cookie, record)) return 'other-browser';
      await records.delete(digest(token));
      return { discordUserId: record.discordUserId, ...(record.proven ? { proven: record.proven } : {}), record };
    },

    async proven(signIn, who) {
      const token = newToken();
      await records.set(digest(token), { ...signIn.record, stage: 'confirm', proven: who }, SIGN_IN_TTL_MS);
      return token;
    },

    requestTokenOf: (signIn) => box.open(signIn.record.requestToken, sealContext(signIn.record.discordUserId)),
  };
}
