/**
 * A scheduled change whose run meets a store that does not answer (Redis paused past the store's deadline at
 * the instant it fires) is tried again shortly and made once, instead of being dropped until the rule's next
 * instant. In process, on a private Redis, against the local X server; the scheduler's clock moved forward.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import { STORE_RETRY_MS } from '../../src/schedule/timers.js';
import { STORE_TIMEOUT_MS } from '../../src/store/backend.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { dueWhileDownRecord } from '../support/due-schedules.js';
import { eventually } from '../support/eventually.js';
import { openRecords, type Records } from '../support/records.js';
import { startPrivateRedis, type PrivateServer } from '../support/private-servers.js';
import { startXServer, type XServer } from '../support/x-server.js';

let x: XServer;
let redis: PrivateServer;
let dir: string;
let services: Services;
let records: Records;
const clock = { offset: 0, now: () => Date.now() + clock.offset };

beforeAll(async () => {
  x = await startXServer({ processingDelayMs: 0 });
  redis = await startPrivateRedis();
  await redis.start();
  dir = mkdtempSync(join(tmpdir(), 'avatar-bot-store-fault-'));
  const config = parseConfig(localServicesEnv(x, dir, { STORE_URL: redis.url, TWITTER_PROCESSING_DELAY_MS: '0' }));
  services = await createServices(config, createLogger({ level: 'silent' }), { clock });
  records = await openRecords(config);
}, 30_000);
afterAll(async () => {
  await services?.close();
  await records?.close();
  await redis?.stop();
  await x?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a fire whose store does not answer is run again shortly: the change is made once, not dropped', async () => {
  const userId = '500000000000000201';
  const account = x.addUser({ screenName: 'store_paused' });
  await records.vault.save(userId, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
  for (const [name, background] of [['a', '#225588'], ['b', '#882255']] as const) {
    await records.library.add(userId, name, { data: await sharp({ create: { width: 400, height: 400, channels: 3, background } }).jpeg().toBuffer(), format: 'jpeg' });
  }
  // An event at the next whole minute over the default image, which is applied; the clock 2 s before it.
  const eventMs = Math.ceil((Date.now() + 120_000) / 60_000) * 60_000;
  await records.schedules.update(userId, () => dueWhileDownRecord(0, eventMs + 3_600_000));
  clock.offset = eventMs - 2000 - Date.now();
  await services.scheduler.refresh(userId);
  await eventually(async () => expect(services.scheduler.plannedAt(userId)?.getTime()).toBe(eventMs));
  // Redis stops answering half a second before the instant, for longer than the store's deadline.
  await sleep(1500);
  execFileSync('redis-cli', ['-u', redis.url, 'CLIENT', 'PAUSE', String(STORE_TIMEOUT_MS + 1500), 'ALL']);
  await sleep(STORE_TIMEOUT_MS + 1500);
  expect(x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(0); // the fire met the paused store
  await eventually(async () => expect((await records.schedules.get(userId)).applied?.image).toBe('b'), STORE_RETRY_MS * 1.5 + 10_000, 250);
  expect(x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(1);
}, 60_000);
