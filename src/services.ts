/**
 * Everything the bot's commands call, built once from the configuration. Tests build the same thing
 * against servers on 127.0.0.1 by changing only configuration values.
 */
import type { Config } from './config.js';
import { createAccountLinks, type AccountLinks } from './account-links.js';
import { createAvatarChanges, type AvatarChanges } from './avatar-changes.js';
import { createAvatarNormalizer, type AvatarNormalizer } from './avatar/normalize.js';
import { createDownloader, type Downloader } from './download.js';
import { createKeyedLock } from './keyed-lock.js';
import type { Logger } from './log.js';
import { openStore, type Store } from './store/backend.js';
import { createAvatarHistory } from './store/history.js';
import { createTokenVault, type TokenVault } from './store/vault.js';
import { secretBoxFrom, xClientFrom } from './wiring.js';
import type { XClient } from './x/client.js';

export interface Services {
  config: Config;
  logger: Logger;
  store: Store;
  vault: TokenVault;
  x: XClient;
  normalizer: AvatarNormalizer;
  attachments: Downloader;
  links: AccountLinks;
  avatars: AvatarChanges;
  close(): Promise<void>;
}

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  const box = secretBoxFrom(config);
  const x = xClientFrom(config, logger.child({ component: 'x' }));
  const store = await openStore(config.storeUrl);
  const vault = createTokenVault(store, box);
  const history = createAvatarHistory(store);
  const normalizer = createAvatarNormalizer({ concurrency: config.imageConcurrency });
  const attachments = createDownloader({ allowedHosts: config.attachmentHosts, sourceName: 'Discord' });
  const xImages = createDownloader({ allowedHosts: config.xImageHosts, sourceName: 'X' });
  const userLock = createKeyedLock();
  const avatars = createAvatarChanges({ store, vault, history, x, normalizer, xImages, userLock, logger });
  const links = createAccountLinks({
    store,
    vault,
    box,
    x,
    publicUrl: config.publicUrl,
    tokenLock: createKeyedLock(),
    forgetUser: (discordUserId) => avatars.forget(discordUserId),
  });
  return {
    config,
    logger,
    store,
    vault,
    x,
    normalizer,
    attachments,
    links,
    avatars,
    async close() {
      await Promise.allSettled([x.close(), attachments.close(), xImages.close()]);
      await store.close();
    },
  };
}
