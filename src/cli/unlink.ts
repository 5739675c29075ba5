import { createLogger } from '../log.js';
import { loadConfig } from '../config.js';
import { VaultError, type LinkedAccount } from '../store/vault.js';
import { XApiError } from '../x/errors.js';
import { openVault, xClientFrom } from '../wiring.js';
import { discordUserOption, parse, UsageError } from './args.js';

export async function run(args: string[]): Promise<void> {
  const { values } = parse(args, { 'discord-user': { type: 'string' } }, []);
  const discordUser = discordUserOption(values['discord-user']);
  if (discordUser === undefined) throw new UsageError('unlink needs --discord-user <id>');
  const config = loadConfig();
  const x = xClientFrom(config, createLogger({ level: config.logLevel }));
  const { store, vault } = await openVault(config);
  try {
    let account: LinkedAccount;
    try {
      account = await vault.require(discordUser);
    } catch (error) {
      if (!(error instanceof VaultError && error.kind === 'damaged-link')) throw error;
      // Its token cannot be read, so X cannot be asked to revoke it; the record goes anyway.
      process.stderr.write(`warning: ${error.operatorMessage ?? error.userMessage} X could not be told; the link is deleted here.\n`);
      await vault.delete(discordUser);
      process.stdout.write(`Unlinked Discord user ${discordUser} (the damaged link was deleted locally only)\n`);
      return;
    }
    let revokedAtX = true;
    try {
      await x.invalidateToken(account);
    } catch (error) {
      // Unlinking must work even when X refuses: the local copy goes either way.
      if (!(error instanceof XApiError)) throw error;
      revokedAtX = false;
      process.stderr.write(`warning: X did not revoke the token (${error.userMessage}); it is deleted here anyway.\n`);
    }
    await vault.delete(discordUser);
    process.stdout.write(`Unlinked @${account.screenName}${revokedAtX ? '' : ' (deleted locally only)'}\n`);
  } finally {
    await Promise.all([x.close(), store.close()]);
  }
}
