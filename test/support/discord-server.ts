/**
 * A Discord-compatible REST + gateway server on 127.0.0.1 for the end-to-end tests, the load
 * benchmark and `npm run demo`.
 *
 * The real discord.js `Client` connects to it (`rest: { api: server.apiUrl }`); a test then drives
 * interactions through the gateway (`server.slash(...)`, `interaction.click(...)`, ...) and asserts
 * on what the bot sent back over REST (callbacks, @original edits, follow-ups, DMs, channel posts).
 *
 * Deliberate simplifications: one JSON gateway encoding without compression; permissions are the
 * guild-level computation (no channel overwrites); no rate limiting; no MESSAGE_CREATE echo of the
 * bot's own posts; webhook tokens never expire (only the 3 s window for the first callback does).
 *
 * The server is split by concern under ./discord-server/ (types, state, gateway, REST routes, interactions,
 * callbacks and webhooks, messages, guilds and members, files/CDN, validation); this entry keeps its API.
 */
import { LocalDiscord } from './discord-server/server.js';
import type { DiscordServer, DiscordServerOptions } from './discord-server/types.js';

export type * from './discord-server/types.js';
export { componentsOf, parseMultipart } from './discord-server/helpers.js';

export async function startDiscordServer(options: DiscordServerOptions = {}): Promise<DiscordServer> {
  const server = new LocalDiscord(options);
  await server.listen();
  return server;
}
