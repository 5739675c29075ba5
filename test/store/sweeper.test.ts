/**
 * Expired previews and pending sign-in links leave the store within one sweep on SQLite and PostgreSQL,
 * where keyv only drops an expired entry when it is read. Counted in the database itself: rows and bytes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PENDING_LINK_TTL_MS, pendingKey } from '../../src/accounts/links.js';
import { PREVIEW_TTL_MS } from '../../src/avatar/changes.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import { createSweeper } from '../../src/store/sweeper.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { startXServer, type XServer } from '../support/x-server.js';
import { openRecords, type Records } from '../support/records.js';
import type { Store } from '../../src/store/backend.js';

const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-sweeper-'));
let x: XServer;
beforeAll(async () => {
  x = await startXServer();
});
afterAll(async () => {
  await x.close();
  rmSync(dir, { recursive: true, force: true });
});

const backends: Array<['sqlite' | 'postgres', () => string]> = [['sqlite', () => `sqlite://${join(dir, `sweep-${randomBytes(4).toString('hex')}.sqlite`)}`]];
if (process.env.DATABASE_URL) backends.push(['postgres', () => process.env.DATABASE_URL!]);

/** The rows (and their bytes) that hold these keys, read with SQL from the table keyv writes. */
async function rowsOf(store: Store, keys: string[]): Promise<{ rows: number; bytes: number }> {
  const adapter = store.namespace('previews').store as { query(sql: string): Promise<Array<{ key: string; bytes: number | string }>> };
  const found = await adapter.query(
    "SELECT key, length(value) AS bytes FROM keyv WHERE key LIKE 'previews:%' OR key LIKE 'preview-index:%' OR key LIKE 'pending-links:%' OR key LIKE 'pending-link-index:%' OR key LIKE 'tokens:%'",
  );
  const wanted = new Set(keys);
  const ours = found.filter((row) => wanted.has(row.key));
  return { rows: ours.length, bytes: ours.reduce((sum, row) => sum + Number(row.bytes), 0) };
}

describe.each(backends)('sweeping expired entries on %s', (_kind, makeUrl) => {
  let services: Services;
  let records: Records; // beside the services, to plant links and read rows (../support/records.ts)
  let offset = 0; // how far the sweeper's clock is ahead of the real one
  const run = randomBytes(4).toString('hex');
  const users = [1, 2, 3, 4].map((n) => `${n}00${run}`);
  const previewKeys: string[] = [];
  const pendingKeys: string[] = [];

  beforeAll(async () => {
    const config = parseConfig(localServicesEnv(x, dir, { STORE_URL: makeUrl() }));
    services = await createServices(config, createLogger({ level: 'silent' }), { sweeper: { clock: { now: () => Date.now() + offset } } });
    records = await openRecords(config);
    for (const user of users) {
      const account = x.addUser({ screenName: `sweep_${user}` });
      await records.vault.save(user, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      // Three previews each (the most a user keeps), as /avatar preview stores them: 12 previews of 600 KB.
      for (let n = 0; n < 3; n++) {
        const preview = await services.avatars.createPreview(user, { data: randomBytes(600 * 1024), format: 'jpeg' }, `photo ${n}`);
        previewKeys.push(`previews:${preview.id}`);
      }
      previewKeys.push(`preview-index:${user}`);
      const started = await services.links.start(user, 'pin');
      pendingKeys.push(`pending-links:${pendingKey(started.requestToken)}`, `pending-link-index:${user}`);
    }
  });
  afterAll(async () => {
    for (const user of users) await records.vault.delete(user);
    await records.close();
    await services.close();
  });

  it('keeps what has not expired, then deletes every expired preview and pending link in one sweep', async () => {
    const tokenKeys = users.map((user) => `tokens:${user}`);
    const before = await rowsOf(records.store, [...previewKeys, ...pendingKeys]);
    expect(before.rows).toBe(previewKeys.length + pendingKeys.length);
    expect(before.bytes).toBeGreaterThan(12 * 600 * 1024); // base64: about 9.8 MB

    offset = 0;
    await services.sweeper.sweep();
    expect(await rowsOf(records.store, [...previewKeys, ...pendingKeys])).toEqual(before);

    offset = Math.max(PREVIEW_TTL_MS, PENDING_LINK_TTL_MS) + 60_000; // 16 minutes later
    const swept = await services.sweeper.sweep();
    expect(swept['previews']).toBeGreaterThanOrEqual(12);
    expect(swept['pending-links']).toBeGreaterThanOrEqual(4);
    expect(await rowsOf(records.store, [...previewKeys, ...pendingKeys])).toEqual({ rows: 0, bytes: 0 });
    expect((await rowsOf(records.store, tokenKeys)).rows).toBe(users.length); // entries without a TTL stay
  });
});

describe('one sweep is bounded', () => {
  it('deletes at most batchSize x maxBatches rows of a namespace per sweep; the next sweep goes on', async () => {
    const config = parseConfig(localServicesEnv(x, dir, { STORE_URL: `sqlite://${join(dir, 'bounded.sqlite')}` }));
    const services = await createServices(config, createLogger({ level: 'silent' }));
    const records = await openRecords(config);
    try {
      const previews = records.store.namespace('previews');
      for (let n = 0; n < 7; n++) await previews.set(`p${n}`, { data: 'x' }, 60_000);
      const sweeper = createSweeper({ store: records.store, namespaces: ['previews'], logger: services.logger, batchSize: 2, maxBatches: 2, clock: { now: () => Date.now() + 120_000 } });
      expect(await sweeper.sweep()).toEqual({ previews: 4 });
      expect(await sweeper.sweep()).toEqual({ previews: 3 });
      expect(await sweeper.sweep()).toEqual({ previews: 0 });
    } finally {
      await records.close();
      await services.close();
    }
  });
});
