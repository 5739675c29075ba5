#!/usr/bin/env node
/**
 * `avatar-bot <command>`. Each command loads only what it needs (dynamic imports), so the one-shot
 * `normalize` starts without discord.js, the store or the X client.
 *
 * Exit codes: 0 success; 1 X or the store refused or failed; 2 bad input, usage or configuration;
 * 3 rotate-key skipped records it could not open (the rest were re-sealed).
 * Failures print one `error:` line on stderr, never a stack trace.
 */
import { UserFacingError } from './errors.js';
import { UsageError } from './cli/args.js';

const USAGE = `usage: avatar-bot <command> [options]

  normalize <input> <output> [--crop attention|centre|contain] [--background '#rrggbb']
                        write the 400x400 avatar; prints {"format","width","height","bytes"}
  normalize --banner <input> <output> [--crop …] [--background …]
                        write the 1500x500 banner (X's header image, under 5 MB) instead
  set <image> [--crop …] [--background …] [--discord-user <id>]
                        normalise and upload to the operator's account (TWITTER_ACCESS_TOKEN[_SECRET])
                        or to a Discord user's linked account; prints the final 400x400 URL
  banner <image> [--crop …] [--background …] [--discord-user <id>]
                        normalise to 1500x500 (as normalize --banner) and upload as the X banner;
                        prints the banner's URL
  profile [--name <text>] [--bio <text>] [--discord-user <id>]
                        set the X display name and/or bio (--bio '' empties it); X's limits (50 and
                        160 characters) are checked before anything is sent; prints {"name","bio"}
  revert [--part avatar|banner|name|bio] --discord-user <id>
                        back to the part's value before the bot's last change (else the one from
                        before the bot); prints {"part","shown","original"}
  link [--discord-user <id>]
                        link an X account with a PIN; stores it for that Discord user, or prints
                        the operator's TWITTER_ACCESS_TOKEN and TWITTER_ACCESS_TOKEN_SECRET
  unlink --discord-user <id>
                        revoke the token at X and delete the link and everything kept for that
                        user, as /twitter unlink does (a damaged link is deleted here only)
  gen-key               print a new TOKEN_ENCRYPTION_KEY
  rotate-key            re-encrypt every stored link and pending sign-in under TOKEN_ENCRYPTION_KEY
                        (the old key goes in TOKEN_ENCRYPTION_KEY_PREVIOUS); exit 3 when some
                        records could not be opened and were skipped
`;

/** Failures of what the user gave us (arguments, configuration, the image): exit code 2. Others: 1. */
const BAD_INPUT_KINDS = new Set(['usage', 'missing', 'invalid', 'empty', 'too-large', 'unsupported-format', 'corrupt', 'too-many-pixels', 'too-many-frames', 'too-complex', 'invalid-background', 'text-too-long']);

/** rotate-key re-sealed what it could but skipped damaged records: 3, so a script can tell it apart. */
const exitCodeFor = (error: UserFacingError) => (BAD_INPUT_KINDS.has(error.kind) ? 2 : error.kind === 'records-skipped' ? 3 : 1);

type Handler = (args: string[]) => Promise<void>;

const commands: Record<string, Handler> = {
  normalize: async (args) => (await import('./cli/normalize.js')).run(args),
  set: async (args) => (await import('./cli/set.js')).run(args),
  banner: async (args) => (await import('./cli/banner.js')).run(args),
  profile: async (args) => (await import('./cli/profile.js')).run(args),
  revert: async (args) => (await import('./cli/revert.js')).run(args),
  link: async (args) => (await import('./cli/link.js')).run(args),
  unlink: async (args) => (await import('./cli/unlink.js')).run(args),
  'gen-key': async () => {
    const { generateKey } = await import('./store/cipher.js');
    process.stdout.write(`${generateKey()}\n`);
  },
  'rotate-key': async (args) => (await import('./cli/rotate-key.js')).run(args),
  start: async (args) => (await import('./cli/start.js')).run(args),
  'deploy-commands': async (args) => (await import('./cli/deploy-commands.js')).run(args),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}" (see avatar-bot --help)`);
  await command(args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UserFacingError) {
      // The terminal is the operator's: a damaged link is explained as the operator needs it (which key).
      const operatorMessage = 'operatorMessage' in error && typeof error.operatorMessage === 'string' ? error.operatorMessage : undefined;
      process.stderr.write(`error: ${operatorMessage ?? error.userMessage}\n`);
      process.exitCode = exitCodeFor(error);
    } else if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${error.message} (see avatar-bot --help)\n`);
      process.exitCode = 2;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`error: unexpected failure: ${message.split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  },
);
