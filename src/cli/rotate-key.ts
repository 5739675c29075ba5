import { loadConfig } from '../config.js';
import { openVault } from '../wiring.js';
import { parse } from './args.js';

export async function run(args: string[]): Promise<void> {
  parse(args, {}, []);
  const { store, vault } = await openVault(loadConfig());
  try {
    const { rewritten, alreadyCurrent } = await vault.rotate();
    process.stdout.write(`${JSON.stringify({ rewritten, alreadyCurrent })}\n`);
  } finally {
    await store.close();
  }
}
