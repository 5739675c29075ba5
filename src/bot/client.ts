/**
 * The bot's discord.js client, built before the services so that what the core asks of Discord (telling a
 * user about a scheduled change, whether someone is still in a server) is given to the services when they
 * are built: `createServices(config, logger, { edge: discordEdge(client) })`, then `createBot({ client, … })`.
 */
import { Client, GatewayIntentBits, Partials, ShardClientUtil } from 'discord.js';
import type { Config } from '../config.js';
import type { EdgeHooks } from '../services.js';
import { membershipOf } from './membership.js';
import { deliverNotice } from './notify.js';

/** Which gateway shards this process runs, of how many (default: the only one). */
export interface ShardAssignment {
  shards: number[];
  total: number;
}

export const SINGLE_SHARD: ShardAssignment = { shards: [0], total: 1 };

export function createDiscordClient(config: Pick<Config, 'discordApiUrl'>, assignment: ShardAssignment = SINGLE_SHARD): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds],
    partials: [Partials.Channel],
    rest: { api: config.discordApiUrl, version: '10', timeout: 15_000 },
    // Always given: without them discord.js reads SHARDS and SHARD_COUNT from the environment itself, where
    // SHARD_COUNT may be this bot's own `auto`.
    shards: assignment.shards,
    shardCount: assignment.total,
  });
}

/** Whether `guildId` belongs to one of this client's shards (Discord sends that guild's events only there). */
export function ownsGuild(client: Client, guildId: string): boolean {
  const { shards, shardCount } = client.options;
  if (shardCount === undefined || shardCount <= 1 || !Array.isArray(shards)) return true;
  return shards.includes(ShardClientUtil.shardIdForGuildId(guildId, shardCount));
}

export function discordEdge(client: Client): EdgeHooks {
  return {
    notify: (discordUserId, record, notice, locale) => deliverNotice(client, discordUserId, record, notice, locale),
    // The member-leave gateway event would need the privileged GuildMembers intent: ask Discord. A guild of
    // another process's shard is not in this cache (a team season met by this process's share of the
    // schedules): asked of Discord by id, which REST allows from any shard.
    membership: async (guildId, userId) => membershipOf(client.guilds.cache.get(guildId) ?? (ownsGuild(client, guildId) ? undefined : await client.guilds.fetch({ guild: guildId, cache: false }).catch(() => undefined)), userId),
    ownsGuild: (guildId) => ownsGuild(client, guildId),
  };
}
