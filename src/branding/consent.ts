/**
 * Who agreed to wear a server's team branding: per guild, the members who opted in, in the order
 * they joined, and which parts of their profile each allowed (avatar, banner, name, bio); plus a per-user
 * index of their guilds so that one command can withdraw everywhere. A member who joined without
 * choosing, and every record from before parts existed, allowed the avatar only.
 * Knows nothing about X or Discord beyond ids.
 *
 * Writes read, change and write two records, so they run one at a time under one store lock, in this
 * process and across processes (Redis, PostgreSQL, a shared SQLite file).
 */
import type Keyv from 'keyv';
import type { Store } from '../store/backend.js';
import { PROFILE_PARTS, type ProfilePart } from '../profile/parts.js';

/** What a member allowed when they joined without choosing (and what records without parts mean). */
export const DEFAULT_PARTS: readonly ProfilePart[] = ['avatar'];

interface GuildConsent {
  members: string[];
  /** Per member who allowed anything but the avatar alone: the parts, in PROFILE_PARTS order. */
  parts?: Record<string, ProfilePart[]>;
}

interface UserConsent {
  guilds: string[];
}

export interface ConsentStore {
  /** Opt a member in, allowing `parts` (the avatar only by default; joining again replaces them); true when
   *  they were not opted in already. */
  join(guildId: string, userId: string, parts?: readonly ProfilePart[]): Promise<boolean>;
  /** The parts the member allowed; undefined when they did not opt in. */
  parts(guildId: string, userId: string): Promise<ProfilePart[] | undefined>;
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

  const guildRecord = async (guildId: string): Promise<GuildConsent> => ((await records.get(guildKey(guildId))) as GuildConsent | undefined) ?? { members: [] };
  const guildMembers = async (guildId: string) => (await guildRecord(guildId)).members;
  const userGuilds = async (userId: string) => ((await records.get(userKey(userId))) as UserConsent | undefined)?.guilds ?? [];

  async function setGuilds(userId: string, list: string[]): Promise<void> {
    if (list.length === 0) await records.delete(userKey(userId));
    else await records.set(userKey(userId), { guilds: list });
  }

  async function setGuild(guildId: string, record: GuildConsent): Promise<void> {
    const parts = Object.fromEntries(Object.entries(record.parts ?? {}).filter(([userId]) => record.members.includes(userId)));
    if (record.members.length === 0) await records.delete(guildKey(guildId));
    else await records.set(guildKey(guildId), Object.keys(parts).length ? { members: record.members, parts } : { members: record.members });
  }

  async function remove(guildId: string, userId: string): Promise<boolean> {
    const record = await guildRecord(guildId);
    const guilds = await userGuilds(userId);
    await setGuilds(userId, guilds.filter((id) => id !== guildId));
    if (!record.members.includes(userId)) return false;
    await setGuild(guildId, { ...record, members: record.members.filter((id) => id !== userId) });
    return true;
  }

  return {
    join: (guildId, userId, allowed = DEFAULT_PARTS) =>
      write(async () => {
        const record = await guildRecord(guildId);
        const guilds = await userGuilds(userId);
        if (!guilds.includes(guildId)) await setGuilds(userId, [...guilds, guildId]);
        const parts = PROFILE_PARTS.filter((part) => allowed.includes(part));
        const { [userId]: _was, ...others } = record.parts ?? {};
        const isDefault = parts.length === DEFAULT_PARTS.length && parts.every((part) => DEFAULT_PARTS.includes(part));
        const joined = !record.members.includes(userId);
        await setGuild(guildId, { members: joined ? [...record.members, userId] : record.members, parts: isDefault ? others : { ...others, [userId]: parts } });
        return joined;
      }),

    async parts(guildId, userId) {
      const record = await guildRecord(guildId);
      if (!record.members.includes(userId)) return undefined;
      return record.parts?.[userId] ?? [...DEFAULT_PARTS];
    },

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
