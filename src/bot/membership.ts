/**
 * Whether someone is still a member of a server, asked of Discord (the bot has no GuildMembers intent, so
 * its member cache does not hear about people leaving). Someone who left has withdrawn their branding
 * consent there: found when a push or its prompt reaches them.
 */
import { DiscordAPIError, RESTJSONErrorCodes, type Guild, type GuildMember } from 'discord.js';
import type { ConsentStore } from '../branding/consent.js';
import type { Membership } from '../services.js';

/** What Discord says of someone in a server: still a member, gone, or no answer (not in the cache, an error). */
export async function membershipOf(guild: Guild | undefined, userId: string): Promise<Membership> {
  if (!guild) return 'unknown';
  try {
    await guild.members.fetch({ user: userId, force: true });
    return 'member';
  } catch (error) {
    return error instanceof DiscordAPIError && (error.code === RESTJSONErrorCodes.UnknownMember || error.code === RESTJSONErrorCodes.UnknownUser) ? 'left' : 'unknown';
  }
}

/** The member, or undefined when they left the server; other failures are thrown. */
export async function currentMember(guild: Guild, userId: string, consent: ConsentStore): Promise<GuildMember | undefined> {
  try {
    return await guild.members.fetch({ user: userId, force: true });
  } catch (error) {
    if (!(error instanceof DiscordAPIError) || (error.code !== RESTJSONErrorCodes.UnknownMember && error.code !== RESTJSONErrorCodes.UnknownUser)) throw error;
    await consent.leave(guild.id, userId);
    return undefined;
  }
}
