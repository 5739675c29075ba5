/**
 * The bot's discord.js client, built before the services so that what the core asks of Discord (telling a
 * user about a scheduled change, whether someone is still in a server) is given to the services when they
 * are built: `createServices(config, logger, { edge: discordEdge(client) })`, then `createBot({ client, … })`.
 */
import { Client, GatewayIntentBits, Partials, REST, Routes, ShardClientUtil, type APIChannel } from 'discord.js';
import type { Config } from '../config.js';
import type { EdgeHooks } from '../services.js';
import type { BreakerEvent } from '../x/breaker.js';
import { t } from '../i18n/t.js';
import { truncate } from '../text.js';
import { membershipOf } from './membership.js';
import { deliverNotice } from './notify.js';

/** Which gateway shards this process runs, of how many (default: the only one). */
export interface ShardAssignment {
  shards: number[];
  total: number;
}

export const SINGLE_SHARD: ShardAssignment = { shards: [0], total: 1 };

/**
 * Requests sent with an interaction's token (the edits of its reply, follow-ups; discord.js never counts the
 * acknowledgement) per second at most. Discord does not count them in the bot's global limit (50 a second):
 * this only keeps a loop from flooding; each interaction's own limits come in the answers' rate-limit headers,
 * as for any route. A process answers about 500-600 commands a second here (bench scale), one edit each.
 */
export const INTERACTION_REQUESTS_PER_SECOND = 1000;

/**
 * How often both REST clients drop their idle handlers. @discordjs/rest keeps one per route and major
 * parameter, an hour by default: a reply's webhook route has the interaction's token as its major parameter
 * (one handler, about 600 bytes, per command: at 500 commands a second a gigabyte an hour, past the heap limit
 * `npm start` sets), and a DM's has its channel (one per user a wave of notices reaches). Swept every minute,
 * about 20 MB at most. Discord's limits on these routes are counted in seconds, so a handler idle for a minute
 * has nothing left to remember.
 */
export const HANDLER_SWEEP_MS = 60_000;

export interface DiscordClientOptions {
  /** HANDLER_SWEEP_MS unless given (tests). */
  handlerSweepMs?: number;
}

/** The REST client a Discord client sends interaction requests through (see separateInteractionRequests). */
const interactionClients = new WeakMap<Client, REST>();
export const interactionRestOf = (client: Client): REST | undefined => interactionClients.get(client);

export function createDiscordClient(config: Pick<Config, 'discordApiUrl'>, assignment: ShardAssignment = SINGLE_SHARD, options: DiscordClientOptions = {}): Client {
  const rest = { api: config.discordApiUrl, version: '10', timeout: 15_000, handlerSweepInterval: options.handlerSweepMs ?? HANDLER_SWEEP_MS } as const;
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    partials: [Partials.Channel],
    rest,
    // Always given: without them discord.js reads SHARDS and SHARD_COUNT from the environment itself, where
    // SHARD_COUNT may be this bot's own `auto`.
    shards: assignment.shards,
    shardCount: assignment.total,
  });
  const interactions = new REST({ ...rest, globalRequestsPerSecond: INTERACTION_REQUESTS_PER_SECOND });
  separateInteractionRequests(client.rest, interactions);
  interactionClients.set(client, interactions);
  return client;
}

/**
 * discord.js counts every request in one global budget of 50 a second, the replies to interactions
 * included: when a wave of scheduled changes sends its DM notices (1,000 at once in bench scale), a
 * `/twitter status` answer queued behind them waited for the next second's turn, though Discord does not count
 * interaction requests in that limit (Javacord and discordeno route them apart for the same reason). The
 * requests that carry no bot token (`auth: false`: the interaction's callback and its webhook, which is all
 * this bot sends that way) go through `interactions`, a REST client with its own budget; the rest as before.
 */
function separateInteractionRequests(general: REST, interactions: REST): void {
  const request = general.request.bind(general);
  general.request = (options) => (options.auth === false ? interactions.request(options) : request(options));
  // client.destroy() stops the general client's sweepers: the interactions' stop with them.
  for (const sweeper of ['clearHashSweeper', 'clearHandlerSweeper'] as const) {
    const clear = general[sweeper].bind(general);
    general[sweeper] = () => {
      clear();
      interactions[sweeper]();
    };
  }
}

/** Whether `guildId` belongs to one of this client's shards (Discord sends that guild's events only there). */
export function ownsGuild(client: Client, guildId: string): boolean {
  const { shards, shardCount } = client.options;
  if (shardCount === undefined || shardCount <= 1 || !Array.isArray(shards)) return true;
  return shards.includes(ShardClientUtil.shardIdForGuildId(guildId, shardCount));
}

/**
 * A scheduled change runs in whichever process takes its lease, and its notice channel may be in a server
 * of another process's shard: discord.js resolves a channel only with its guild cached (otherwise it says
 * the channel is gone). So that guild is fetched fresh (roles) into this cache, with the bot's member, and
 * the notice is checked and posted as in the owning process. Three more requests, only in that case.
 */
async function adoptNoticeGuild(client: Client, channelId: string): Promise<void> {
  if ((client.options.shardCount ?? 1) <= 1) return;
  const channel = (await client.rest.get(Routes.channel(channelId))) as APIChannel;
  const guildId = 'guild_id' in channel ? channel.guild_id : undefined;
  if (!guildId || ownsGuild(client, guildId)) return;
  const guild = await client.guilds.fetch({ guild: guildId, force: true });
  await guild.members.fetchMe({ force: true });
}

/** The operator's words for the X breaker (en-US: the operator's log, like the error log line). */
export function operatorMessage(event: BreakerEvent): string {
  if (event.kind === 'closed') return t('en-US', 'operator.breaker.closed');
  return t('en-US', 'operator.breaker.opened', { reason: t('en-US', `operator.reason.${event.reason}`), nextProbeAt: new Date(event.nextProbeAt).toISOString() });
}

/** `operatorLogChannel`: where the X breaker's openings and closings are posted (OPERATOR_LOG_CHANNEL). */
export function discordEdge(client: Client, operator: Pick<Config, 'operatorLogChannel'> = { operatorLogChannel: undefined }): EdgeHooks {
  const { operatorLogChannel } = operator;
  return {
    // One REST post, bounded by the client's 15 s REST timeout; a failure is logged by the breaker, not thrown.
    ...(operatorLogChannel
      ? { tellOperator: async (event: BreakerEvent) => void (await client.rest.post(Routes.channelMessages(operatorLogChannel), { body: { content: truncate(operatorMessage(event), 2000), allowed_mentions: { parse: [] } } })) }
      : {}),
    notify: async (discordUserId, record, notice, locale) => {
      // A failure here leaves it to deliverNotice, which then tells the user by DM why the channel was not used.
      if (record.notify.mode === 'channel') await adoptNoticeGuild(client, record.notify.channelId).catch(() => undefined);
      return deliverNotice(client, discordUserId, record, notice, locale);
    },
    // The member-leave gateway event would need the privileged GuildMembers intent: ask Discord. A guild of
    // another process's shard is not in this cache (a team season met by this process's share of the
    // schedules): asked of Discord by id, which REST allows from any shard.
    membership: async (guildId, userId) => membershipOf(client.guilds.cache.get(guildId) ?? (ownsGuild(client, guildId) ? undefined : await client.guilds.fetch({ guild: guildId, cache: false }).catch(() => undefined)), userId),
    ownsGuild: (guildId) => ownsGuild(client, guildId),
    gatewayPings: () => client.ws.shards.map((shard) => ({ shard: shard.id, ping: shard.ping })),
  };
}
