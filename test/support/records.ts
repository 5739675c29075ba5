/**
 * The bot's records opened beside its services, for a test's set-up and checks: `Services` exposes use cases
 * only (no store, vault or X client), so a test that plants or inspects a record opens the same store URL
 * with the same key, as a second bot process would (writes take the same cross-process record locks).
 */
import type { Config } from '../../src/config.js';
import { createTokenVault, type TokenVault } from '../../src/accounts/vault.js';
import { createAvatarLibrary, type AvatarLibrary } from '../../src/library/store.js';
import { createScheduleStore, type ScheduleStore } from '../../src/schedule/store.js';
import { openStore, type Store } from '../../src/store/backend.js';
import { secretBoxFrom, xClientFrom } from '../../src/wiring.js';
import type { XClient } from '../../src/x/client.js';

export interface Records {
  store: Store;
  vault: TokenVault;
  schedules: ScheduleStore;
  library: AvatarLibrary;
  /** An X client with the bot's app credentials (to ask X about a stored token). */
  x: XClient;
  close(): Promise<void>;
}

export async function openRecords(config: Config): Promise<Records> {
  const store = await openStore(config.storeUrl);
  const x = xClientFrom(config);
  return {
    store,
    vault: createTokenVault(store, secretBoxFrom(config)),
    schedules: createScheduleStore(store),
    library: createAvatarLibrary(store),
    x,
    async close() {
      await x.close();
      await store.close();
    },
  };
}
