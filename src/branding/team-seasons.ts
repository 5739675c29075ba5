/**
 * Team seasons: a server-level season (the same engine as personal seasons) worn by every member who
 * opted in to the server's branding. While one is active it takes precedence over the member's personal
 * schedules, which resume when it ends. Team images live in a library owned by `team:<guildId>`.
 */
import type Keyv from 'keyv';
import type { SeasonSchedule } from '../schedule/engine.js';
import type { Store } from '../store/backend.js';
import type { ConsentStore } from './consent.js';

export const teamLibraryOwner = (guildId: string) => `team:${guildId}`;

export interface TeamSeasons {
  list(guildId: string): Promise<SeasonSchedule[]>;
  add(guildId: string, season: SeasonSchedule): Promise<void>;
  remove(guildId: string, seasonId: string): Promise<SeasonSchedule | undefined>;
  /** The team seasons that apply to a member: those of every server they opted in to. */
  forMember(userId: string): Promise<Team[]>;
  /**
   * forMember for every user at once, read now (one read per server with seasons, not one per user: a
   * catch-up asks for every user). A member of two such servers gets undefined: their order is their own
   * opt-in order, which only forMember reads.
   */
  everyMember(): Promise<(userId: string) => Team[] | undefined>;
}

type Team = { guildId: string; seasons: SeasonSchedule[] };

export function createTeamSeasons(store: Store, consent: ConsentStore): TeamSeasons {
  const records: Keyv<{ seasons: SeasonSchedule[] }> = store.namespace('branding-seasons');
  const list = async (guildId: string) => (await records.get(guildId))?.seasons ?? [];
  const locked = <T>(guildId: string, work: () => Promise<T>) => store.locked(`branding-seasons:${guildId}`, work);
  return {
    list,
    add: (guildId, season) =>
      locked(guildId, async () => {
        await records.set(guildId, { seasons: [...(await list(guildId)), season] });
      }),
    remove: (guildId, seasonId) =>
      locked(guildId, async () => {
        const seasons = await list(guildId);
        const removed = seasons.find((season) => season.id === seasonId);
        await records.set(guildId, { seasons: seasons.filter((season) => season !== removed) });
        return removed;
      }),
    async forMember(userId) {
      const guilds = await consent.guildsOf(userId);
      const found = await Promise.all(guilds.map(async (guildId) => ({ guildId, seasons: await list(guildId) })));
      return found.filter((entry) => entry.seasons.length > 0);
    },
    async everyMember() {
      const teams = new Map<string, Team[]>();
      const ask = new Set<string>();
      for await (const page of store.pages<{ seasons: SeasonSchedule[] }>('branding-seasons')) {
        for (const [guildId, record] of page) {
          const seasons = record?.seasons ?? [];
          if (seasons.length === 0) continue;
          for (const userId of await consent.members(guildId)) {
            if (teams.has(userId)) ask.add(userId);
            else teams.set(userId, [{ guildId, seasons }]);
          }
        }
      }
      return (userId) => (ask.has(userId) ? undefined : (teams.get(userId) ?? []));
    },
  };
}
