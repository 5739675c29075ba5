import { createInterface } from 'node:readline/promises';
import { createLogger } from '../log.js';
import { loadConfig } from '../config.js';
import { xClientFrom } from '../wiring.js';
import { discordUserOption, parse, UsageError } from './args.js';
import { withServices } from './services.js';

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

const instructions = (authorizeUrl: string) => `Open this page, sign in to X as the account to link, and authorise the app:\n\n  ${authorizeUrl}\n\n`;
const PIN_PROMPT = 'Then enter the PIN X shows: ';

/** The operator's own account: the tokens are printed for .env, nothing is stored. */
async function linkOperator(): Promise<void> {
  const config = loadConfig();
  const x = xClientFrom(config, createLogger({ level: config.logLevel }));
  try {
    const requestToken = await x.requestToken('oob');
    process.stderr.write(instructions(x.authorizeUrl(requestToken.token)));
    const account = await x.accessToken(requestToken, await readPin(PIN_PROMPT));
    process.stderr.write(`Linked @${account.screenName}. Put these two lines in .env:\n`);
    process.stdout.write(`TWITTER_ACCESS_TOKEN=${account.token}\nTWITTER_ACCESS_TOKEN_SECRET=${account.secret}\n`);
  } finally {
    await x.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { 'discord-user': { type: 'string' } }, []);
  const discordUser = discordUserOption(values['discord-user']);
  if (discordUser === undefined) return linkOperator();
  // createServices checks the key and the X app before the user does anything. The bot's PIN flow: the pending sign-in is kept (sealed) for this user, and completing it resumes the
  // schedules a revoked link paused, as /twitter link does.
  await withServices(loadConfig(), discordUser, async (services) => {
    const started = await services.links.start(discordUser, 'pin');
    process.stderr.write(instructions(started.authorizeUrl));
    const account = await services.links.completeWithPin(discordUser, started.requestToken, await readPin(PIN_PROMPT));
    process.stdout.write(`Linked @${account.screenName} to Discord user ${discordUser}\n`);
  });
}
