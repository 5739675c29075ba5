/**
 * TokenVault: the linked X account of each Discord user, sealed at rest. It knows nothing about X
 * beyond the shape of a link.
 *
 * Record format v2: `{ v: 2, sealed }`, where `sealed` is every field of the link (X user id, screen
 * name, token, secret, linked-at, status) as one JSON document sealed with AES-GCM, the Discord user id
 * as additional data: no field can be edited in the store, nor a record moved to another user, without
 * the record failing to open. v1 records (token and secret sealed, the rest in clear) are still read, and
 * are rewritten as v2 on the next write or by `avatar-bot rotate-key`.
 *
 * A record that does not open (a key this bot lacks, altered bytes, malformed JSON) is a 'damaged-link'
 * VaultError for that user alone: a sentence for the user, and the operator's explanation (which key,
 * what to run) in `operatorMessage`, for the log or the terminal only.
 */
import type Keyv from 'keyv';
import { UserFacingError } from '../errors.js';
import { SecretError, type SecretBox } from '../store/cipher.js';
import type { Store } from '../store/backend.js';

export type LinkStatus = 'active' | 'revoked';

export interface LinkedAccount {
  xUserId: string;
  screenName: string;
  token: string;
  secret: string;
  linkedAt: string;
  status: LinkStatus;
}

interface StoredLinkV1 {
  xUserId: string;
  screenName: string;
  token: string; // sealed
  secret: string; // sealed
  linkedAt: string;
  status: LinkStatus;
}

interface StoredLinkV2 {
  v: 2;
  sealed: string; // sealed JSON LinkedAccount
}

type StoredLink = StoredLinkV1 | StoredLinkV2;

export const VAULT_ERROR_KINDS = ['not-linked', 'damaged-link'] as const;
export type VaultErrorKind = (typeof VAULT_ERROR_KINDS)[number];

export class VaultError extends UserFacingError<VaultErrorKind> {
  /** What the operator needs to know (key ids, rotate-key); never shown to a Discord user. */
  readonly operatorMessage: string | undefined;

  constructor(kind: VaultErrorKind, options?: { cause?: unknown; operatorMessage?: string }) {
    super(kind, {}, { cause: options?.cause, ...(options?.operatorMessage ? { detail: options.operatorMessage } : {}) });
    this.operatorMessage = options?.operatorMessage;
  }
}

export const notLinked = () => new VaultError('not-linked');


/** Why a sealed record did not open, for the operator: no secrets, only key ids and what to do. */
export function whyUnopened(cause: unknown): string {
  if (cause instanceof SecretError) return cause.userMessage;
  return `it is not a valid record (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}).`;
}

function damagedLink(discordUserId: string, cause: unknown): VaultError {
  return new VaultError('damaged-link', { cause, operatorMessage: `The stored X link of Discord user ${discordUserId} cannot be opened: ${whyUnopened(cause)}` });
}

export interface RotationReport {
  rewritten: number;
  alreadyCurrent: number;
  /** Records that did not open with any configured key; left as they are. */
  skipped: Array<{ discordUserId: string; reason: string }>;
}

export interface TokenVault {
  /** Throws VaultError('damaged-link') when the user's record does not open. */
  get(discordUserId: string): Promise<LinkedAccount | undefined>;
  /** Like get, but throws VaultError('not-linked') when there is no link. */
  require(discordUserId: string): Promise<LinkedAccount>;
  save(discordUserId: string, account: Omit<LinkedAccount, 'linkedAt' | 'status'> & Partial<Pick<LinkedAccount, 'linkedAt' | 'status'>>): Promise<LinkedAccount>;
  setStatus(discordUserId: string, status: LinkStatus): Promise<void>;
  /** Deletes the record whether or not it opens. */
  delete(discordUserId: string): Promise<boolean>;
  /** Every linked Discord user id. */
  userIds(): AsyncGenerator<string>;
  /** Re-seal every link as v2 under the current key; records that do not open are skipped and reported. */
  rotate(): Promise<RotationReport>;
}

const FIELDS = ['xUserId', 'screenName', 'token', 'secret', 'linkedAt'] as const;

function isAccount(value: unknown): value is LinkedAccount {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return FIELDS.every((field) => typeof record[field] === 'string') && (record.status === 'active' || record.status === 'revoked');
}

export function createTokenVault(store: Store, box: SecretBox): TokenVault {
  const links: Keyv<StoredLink> = store.namespace<StoredLink>('tokens');
  const v1Context = (discordUserId: string, field: 'token' | 'secret') => `tokens:${discordUserId}:${field}`;
  const v2Context = (discordUserId: string) => `tokens:v2:${discordUserId}`;

  /** Throws anything (SecretError, SyntaxError, TypeError) when the record does not open: `read` turns it into 'damaged-link'. */
  function openRecord(discordUserId: string, stored: StoredLink): LinkedAccount {
    let account: unknown;
    if (typeof stored === 'object' && stored !== null && 'v' in stored) {
      if (stored.v !== 2 || typeof stored.sealed !== 'string') throw new TypeError(`unknown record version ${String(stored.v)}`);
      account = JSON.parse(box.open(stored.sealed, v2Context(discordUserId)));
    } else {
      if (typeof stored?.token !== 'string' || typeof stored.secret !== 'string') throw new TypeError('a v1 record without its sealed token');
      account = {
        ...stored,
        token: box.open(stored.token, v1Context(discordUserId, 'token')),
        secret: box.open(stored.secret, v1Context(discordUserId, 'secret')),
      };
    }
    if (!isAccount(account)) throw new TypeError('the opened record lacks a field');
    const { xUserId, screenName, token, secret, linkedAt, status } = account;
    return { xUserId, screenName, token, secret, linkedAt, status };
  }

  const sealRecord = (discordUserId: string, account: LinkedAccount): StoredLinkV2 => {
    const { xUserId, screenName, token, secret, linkedAt, status } = account;
    return { v: 2, sealed: box.seal(JSON.stringify({ xUserId, screenName, token, secret, linkedAt, status }), v2Context(discordUserId)) };
  };

  async function get(discordUserId: string): Promise<LinkedAccount | undefined> {
    const stored = await links.get(discordUserId);
    if (stored === undefined) return undefined;
    try {
      return openRecord(discordUserId, stored);
    } catch (error) {
      throw damagedLink(discordUserId, error);
    }
  }

  async function* userIds(): AsyncGenerator<string> {
    if (!links.iterator) throw new Error(`the ${store.kind} store cannot list its keys`);
    for await (const [key] of links.iterator(links.namespace) as AsyncGenerator<[string, unknown]>) yield key;
  }

  const isCurrent = (stored: StoredLink) =>
    typeof stored === 'object' && stored !== null && 'v' in stored && stored.v === 2 && box.keyIdOf(stored.sealed) === box.currentKeyId;

  return {
    get,
    async require(discordUserId) {
      const account = await get(discordUserId);
      if (!account) throw notLinked();
      return account;
    },
    save(discordUserId, account) {
      // Under the same lock as setStatus, so a status change read before a relink cannot overwrite it.
      return store.locked(`tokens:${discordUserId}`, async () => {
        const full: LinkedAccount = { linkedAt: new Date().toISOString(), status: 'active', ...account };
        await links.set(discordUserId, sealRecord(discordUserId, full));
        return full;
      });
    },
    setStatus(discordUserId, status) {
      return store.locked(`tokens:${discordUserId}`, async () => {
        const account = await get(discordUserId);
        if (account) await links.set(discordUserId, sealRecord(discordUserId, { ...account, status }));
      });
    },
    delete: (discordUserId) => links.delete(discordUserId),
    userIds,
    async rotate() {
      const report: RotationReport = { rewritten: 0, alreadyCurrent: 0, skipped: [] };
      const ids: string[] = [];
      for await (const discordUserId of userIds()) ids.push(discordUserId); // list first: rewriting while paging could skip rows
      for (const discordUserId of ids) {
        const stored = await links.get(discordUserId);
        if (stored === undefined) continue;
        let account: LinkedAccount;
        try {
          account = openRecord(discordUserId, stored); // opened even when current, so a damaged record is reported
        } catch (error) {
          report.skipped.push({ discordUserId, reason: whyUnopened(error) });
          continue;
        }
        if (isCurrent(stored)) {
          report.alreadyCurrent++;
          continue;
        }
        await links.set(discordUserId, sealRecord(discordUserId, account));
        report.rewritten++;
      }
      return report;
    },
  };
}
