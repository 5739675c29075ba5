import { commands } from '../../commands/index.js';
import { registerCommands } from '../bot/register.js';
import { loadConfig, need } from '../config.js';
import { parse, UsageError } from './args.js';

export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { guild: { type: 'string' } }, []);
  if (values.guild !== undefined && !/^\d{15,21}$/.test(values.guild)) throw new UsageError(`--guild must be a Discord server id, not "${values.guild}"`);
  const config = loadConfig();
  const { discordToken, discordApplicationId } = need(config, 'discordToken', 'discordApplicationId');
  const names = await registerCommands({ apiUrl: config.discordApiUrl, token: discordToken, applicationId: discordApplicationId, guildId: values.guild, commands });
  process.stdout.write(`Registered ${names.map((name) => `/${name}`).join(', ')} ${values.guild ? `in server ${values.guild}` : 'globally (it can take up to an hour to show everywhere)'}\n`);
}
