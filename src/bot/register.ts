import { REST, Routes } from 'discord.js';
import type { SlashCommand } from './command.js';

/** Register the commands' definitions globally, or in one server (instant, for testing). */
export async function registerCommands(options: { apiUrl: string; token: string; applicationId: string; guildId?: string; commands: SlashCommand[] }): Promise<string[]> {
  const rest = new REST({ api: options.apiUrl, version: '10' }).setToken(options.token);
  const route = options.guildId ? Routes.applicationGuildCommands(options.applicationId, options.guildId) : Routes.applicationCommands(options.applicationId);
  const registered = (await rest.put(route, { body: options.commands.map((command) => command.definition) })) as Array<{ name: string }>;
  return registered.map((command) => command.name);
}
