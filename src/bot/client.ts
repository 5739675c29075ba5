/**
 * The bot's discord.js client, built before the services so that what the core asks of Discord (telling a
 * user about a scheduled change, whether someone is still in a server) is given to the services when they
 * are built: `createServices(config, logger, { edge: discordEdge(client) })`, then `createBot({ client, … })`.
 */
import { Client, GatewayIntentBits, Partials } from 'discord.js';
import type { Config } from '../config.js';
import type { EdgeHooks } from '../services.js';
import { membershipOf } from './membership.js';
import { deliverNotice } from './notify.js';

export function createDiscordClient(config: Pick<Config, 'discordApiUrl'>): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds],
    partials: [Partials.Channel],
    rest: { api: config.discordApiUrl, version: '10', timeout: 15_000 },
  });
}

export function discordEdge(client: Client): EdgeHooks {
  return {
    notify: (discordUserId, record, notice, locale) => deliverNotice(client, discordUserId, record, notice, locale),
    // The member-leave gateway event would need the privileged GuildMembers intent: ask Discord.
    membership: (guildId, userId) => membershipOf(client.guilds.cache.get(guildId), userId),
  };
}
