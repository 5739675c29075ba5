/**
 * Builds the collaborators that the CLI and the bot share from a validated Config.
 * Each function asks only for the variables it needs, so a missing one is named precisely.
 */
import { need, type Config } from './config.js';
import type { Logger } from './log.js';
import { createXClient, type XClient, type XClientOptions } from './x/client.js';
import { createProfileApiMode, keyvRecord, memoryRecord, PROFILE_API_NAMESPACE } from './x/profile-api.js';
import { createSecretBox, type SecretBox } from './store/cipher.js';
import { openStore, type Store } from './store/backend.js';
import { createTokenVault, type TokenVault } from './accounts/vault.js';

/** `store`: where auto's switch to v2 is shared between processes (without one, this process alone knows it). */
export function xClientFrom(config: Config, logger?: Logger, observe?: XClientOptions['observe'], store?: Store): XClient {
  const { twitterConsumerKey, twitterConsumerSecret } = need(config, 'twitterConsumerKey', 'twitterConsumerSecret');
  const record = store ? keyvRecord(store.namespace(PROFILE_API_NAMESPACE), twitterConsumerKey) : memoryRecord();
  return createXClient({
    profileApi: createProfileApiMode({ setting: config.xProfileApi, record, ...(logger ? { logger } : {}) }),
    apiUrl: config.twitterApiUrl,
    consumer: { key: twitterConsumerKey, secret: twitterConsumerSecret },
    processingDelayMs: config.twitterProcessingDelayMs,
    logger,
    observe,
  });
}

export function secretBoxFrom(config: Config): SecretBox {
  const { tokenEncryptionKey } = need(config, 'tokenEncryptionKey');
  return createSecretBox(tokenEncryptionKey, config.tokenEncryptionKeyPrevious ? [config.tokenEncryptionKeyPrevious] : []);
}

export async function openVault(config: Config): Promise<{ store: Store; vault: TokenVault; box: SecretBox }> {
  const box = secretBoxFrom(config);
  const store = await openStore(config.storeUrl);
  return { store, vault: createTokenVault(store, box), box };
}
