import { rotatePendingLinks } from '../accounts/links.js';
import { loadConfig } from '../config.js';
import { UserFacingError } from '../errors.js';
import { openVault } from '../wiring.js';
import { parse } from './args.js';

/**
 * Re-seal every sealed value (linked accounts, pending sign-in links) under TOKEN_ENCRYPTION_KEY.
 * A value that opens with no configured key is skipped and reported by Discord user id, never stopping
 * the others; stdout gets the counts as one JSON line either way, and the exit code is 3 (src/cli.ts).
 */
export async function run(args: string[]): Promise<void> {
  parse(args, {}, []);
  const { store, vault, box } = await openVault(loadConfig());
  try {
    const links = await vault.rotate();
    const pending = await rotatePendingLinks(store, box);
    const skipped = [...links.skipped.map((entry) => ({ ...entry, record: 'link' })), ...pending.skipped.map((entry) => ({ ...entry, record: 'pending-link' }))];
    process.stdout.write(
      `${JSON.stringify({ rewritten: links.rewritten, alreadyCurrent: links.alreadyCurrent, pendingLinks: { rewritten: pending.rewritten, alreadyCurrent: pending.alreadyCurrent }, skipped })}\n`,
    );
    if (skipped.length > 0) {
      const users = [...new Set(skipped.map((entry) => entry.discordUserId))].join(', ');
      throw new UserFacingError('records-skipped', { count: skipped.length, users });
    }
  } finally {
    await store.close();
  }
}
