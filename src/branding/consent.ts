/**
 * Who agreed to wear a server's team branding: per guild, the members who opted in, in the order
 * they joined, plus a per-user index of their guilds so that one command can withdraw everywhere.
 * Knows nothing about X or Discord beyond ids.
 *
 * Writes read, change and write two records, so they run one at a time under one store lock, in this
 * process and across processes (Redis, PostgreSQL, a shared SQLite file).
 */
import type Keyv from 'keyv';
import type { Store } from '../store/backend.js';

interface GuildConsent {
  members: string[];
}

interface UserConsent {
  guilds: string[];
}

export interface ConsentStore {
  /** Opt a member in; true when they were not opted in already. */
  join(guildId: string, userId: string): Promise<boolean>;
  /** Opt a member out; true when they were opted in. */
  leave(guildId: string, userId: string): Promise<boolean>;
  has(guildId: string, userId: string): Promise<boolean>;
  /** The members who opted in, in the order they did. */
  members(guildId: string): Promise<string[]>;
  /** Opt the user out of every guild; returns the guilds they left. */
  leaveEverywhere(userId: string): Promise<string[]>;
  /** The guilds the user opted in to. */
  guildsOf(userId: string): Promise<string[]>;
}

export function createConsentStore(store: Store): ConsentStore {
  const records: Keyv<GuildConsent | UserConsent> = store.namespace<GuildConsent | UserConsent>('branding-consent');
  const guildKey = (guildId: string) => `guild:${guildId}`;
  const userKey = (userId: string) => `user:${userId}`;
  // One lock for every consent write: it keeps the guild record and the user index in step without
  // lock ordering, and consent changes are far too rare for it to matter.
  const write = <T>(work: () => Promise<T>) => store.locked('branding-consent', work);

  const guildMembers = async (guildId: string) => ((await records.get(guildKey(guildId))) as GuildConsent | undefined)?.members ?? [];
  const userGuilds = async (userId: string) => ((await records.get(userKey(userId))) as UserConsent | undefined)?.guilds ?? [];

  async function setList(key: string, field: 'members' | 'guilds', list: string[]): Promise<void> {
    if (list.length === 0) await records.delete(key);
    else await records.set(key, field === 'members' ? { members: list } : { guilds: list });
  }

  async function remove(guildId: string, userId: string): Promise<boolean> {
    const members = await guildMembers(guildId);
    const guilds = await userGuilds(userId);
    await setList(userKey(userId), 'guilds', guilds.filter((id) => id !== guildId));
    if (!members.includes(userId)) return false;
    await setList(guildKey(guildId), 'members', members.filter((id) => id !== userId));
    return true;
  }

  return {
    join: (guildId, userId) =>
      write(async () => {
        const members = await guildMembers(guildId);
        const guilds = await userGuilds(userId);
        if (!guilds.includes(guildId)) await setList(userKey(userId), 'guilds', [...guilds, guildId]);
        if (members.includes(userId)) return false;
        await setList(guildKey(guildId), 'members', [...members, userId]);
        return true;
      }),

    leave: (guildId, userId) => write(() => remove(guildId, userId)),

    async has(guildId, userId) {
      return (await guildMembers(guildId)).includes(userId);
    },

    members: guildMembers,
    guildsOf: userGuilds,

    leaveEverywhere: (userId) =>
      write(async () => {
        const left: string[] = [];
        for (const guildId of await userGuilds(userId)) if (await remove(guildId, userId)) left.push(guildId);
        await records.delete(userKey(userId));
        return left;
      }),
  };
}
