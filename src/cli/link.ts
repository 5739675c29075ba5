import { createInterface } from 'node:readline/promises';
import { createLogger } from '../log.js';
import { loadConfig } from '../config.js';
import { openVault, secretBoxFrom, xClientFrom } from '../wiring.js';
import { discordUserOption, parse, UsageError } from './args.js';

async function readPin(prompt: string): Promise<string> {
  const lines = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    process.stderr.write(prompt);
    for await (const line of lines) {
      const pin = line.trim();
      if (pin) return pin;
    }
  } finally {
    lines.close();
  }
  throw new UsageError('no PIN was entered');
}

export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { 'discord-user': { type: 'string' } }, []);
  const discordUser = discordUserOption(values['discord-user']);
  const config = loadConfig();
  if (discordUser !== undefined) secretBoxFrom(config); // fail on a missing key before the user does anything
  const x = xClientFrom(config, createLogger({ level: config.logLevel }));
  try {
    const requestToken = await x.requestToken('oob');
    process.stderr.write(`Open this page, sign in to X as the account to link, and authorise the app:\n\n  ${x.authorizeUrl(requestToken.token)}\n\n`);
    const pin = await readPin('Then enter the PIN X shows: ');
    const account = await x.accessToken(requestToken, pin);
    if (discordUser === undefined) {
      process.stderr.write(`Linked @${account.screenName}. Put these two lines in .env:\n`);
      process.stdout.write(`TWITTER_ACCESS_TOKEN=${account.token}\nTWITTER_ACCESS_TOKEN_SECRET=${account.secret}\n`);
      return;
    }
    const { store, vault } = await openVault(config);
    try {
      await vault.save(discordUser, { xUserId: account.userId, screenName: account.screenName, token: account.token, secret: account.secret });
    } finally {
      await store.close();
    }
    process.stdout.write(`Linked @${account.screenName} to Discord user ${discordUser}\n`);
  } finally {
    await x.close();
  }
}
