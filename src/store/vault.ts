/**
 * TokenVault: the linked X account of each Discord user, with the OAuth token and secret sealed at rest.
 * It knows nothing about X beyond the shape of a link.
 */
import type Keyv from 'keyv';
import { UserFacingError } from '../errors.js';
import type { SecretBox } from './cipher.js';
import type { Store } from './backend.js';

export type LinkStatus = 'active' | 'revoked';

export interface LinkedAccount {
  xUserId: string;
  screenName: string;
  token: string;
  secret: string;
  linkedAt: string;
  status: LinkStatus;
}

interface StoredLink {
  xUserId: string;
  screenName: string;
  token: string; // sealed
  secret: string; // sealed
  linkedAt: string;
  status: LinkStatus;
}

export class VaultError extends UserFacingError<'not-linked'> {}

export interface TokenVault {
  get(discordUserId: string): Promise<LinkedAccount | undefined>;
  /** Like get, but throws VaultError('not-linked') when there is no link. */
  require(discordUserId: string): Promise<LinkedAccount>;
  save(discordUserId: string, account: Omit<LinkedAccount, 'linkedAt' | 'status'> & Partial<Pick<LinkedAccount, 'linkedAt' | 'status'>>): Promise<LinkedAccount>;
  setStatus(discordUserId: string, status: LinkStatus): Promise<void>;
  delete(discordUserId: string): Promise<boolean>;
  /** Every linked Discord user id. */
  userIds(): AsyncGenerator<string>;
  /** Re-seal every link under the current key; returns how many were rewritten. */
  rotate(): Promise<{ rewritten: number; alreadyCurrent: number }>;
}

export function createTokenVault(store: Store, box: SecretBox): TokenVault {
  const links: Keyv<StoredLink> = store.namespace<StoredLink>('tokens');
  const context = (discordUserId: string, field: 'token' | 'secret') => `tokens:${discordUserId}:${field}`;

  const open = (discordUserId: string, stored: StoredLink): LinkedAccount => ({
    ...stored,
    token: box.open(stored.token, context(discordUserId, 'token')),
    secret: box.open(stored.secret, context(discordUserId, 'secret')),
  });

  const seal = (discordUserId: string, account: LinkedAccount): StoredLink => ({
    ...account,
    token: box.seal(account.token, context(discordUserId, 'token')),
    secret: box.seal(account.secret, context(discordUserId, 'secret')),
  });

  async function get(discordUserId: string) {
    const stored = await links.get(discordUserId);
    return stored ? open(discordUserId, stored) : undefined;
  }

  async function* userIds(): AsyncGenerator<string> {
    if (!links.iterator) throw new Error(`the ${store.kind} store cannot list its keys`);
    for await (const [key] of links.iterator(links.namespace) as AsyncGenerator<[string, unknown]>) yield key;
  }

  return {
    get,
    async require(discordUserId) {
      const account = await get(discordUserId);
      if (!account) throw new VaultError('not-linked', 'Your X account is not linked yet. Use /twitter link first.');
      return account;
    },
    save(discordUserId, account) {
      // Under the same lock as setStatus, so a status change read before a relink cannot overwrite it.
      return store.locked(`tokens:${discordUserId}`, async () => {
        const full: LinkedAccount = { linkedAt: new Date().toISOString(), status: 'active', ...account };
        await links.set(discordUserId, seal(discordUserId, full));
        return full;
      });
    },
    setStatus(discordUserId, status) {
      return store.locked(`tokens:${discordUserId}`, async () => {
        const stored = await links.get(discordUserId);
        if (stored) await links.set(discordUserId, { ...stored, status });
      });
    },
    delete: (discordUserId) => links.delete(discordUserId),
    userIds,
    async rotate() {
      let rewritten = 0;
      let alreadyCurrent = 0;
      for await (const discordUserId of userIds()) {
        const stored = await links.get(discordUserId);
        if (!stored) continue;
        if (box.keyIdOf(stored.token) === box.currentKeyId && box.keyIdOf(stored.secret) === box.currentKeyId) {
          alreadyCurrent++;
          continue;
        }
        await links.set(discordUserId, seal(discordUserId, open(discordUserId, stored)));
        rewritten++;
      }
      return { rewritten, alreadyCurrent };
    },
  };
}
