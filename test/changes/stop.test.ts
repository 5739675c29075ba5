/**
 * A stop while a change is in flight: the change is handed to the next start (ChangeDeferred), and this
 * process neither waits for it for ever nor completes it behind its waiter's back. In process, on SQLite,
 * against the local X server; the stop's first step (the pipeline's close, which services.close() takes
 * before anything else) is taken by hand so that the store is still open when X answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createChangeJournal } from '../../src/changes/journal.js';
import { createAvatarHistory } from '../../src/avatar/history.js';
import { ChangeDeferred } from '../../src/changes/pipeline.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices } from '../../src/services.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { eventually } from '../support/eventually.js';
import { startXServer, X_PATHS, type XServer } from '../support/x-server.js';
import { openRecords } from '../support/records.js';

let x: XServer;
let dir: string;

beforeAll(async () => {
  x = await startXServer({ processingDelayMs: 0 });
  dir = mkdtempSync(join(tmpdir(), 'avatar-bot-stop-'));
});
afterAll(async () => {
  await x?.close();
  rmSync(dir, { recursive: true, force: true });
});

const colour = (background: string) => sharp({ create: { width: 400, height: 400, channels: 3, background } }).jpeg().toBuffer();

/** The services' configuration, and a Discord user linked to a new X account in the records beside them. */
async function setUp(userId: string, screenName: string) {
  const config = parseConfig(localServicesEnv(x, dir, { TWITTER_PROCESSING_DELAY_MS: '0' }));
  const account = x.addUser({ screenName });
  const records = await openRecords(config);
  await records.vault.save(userId, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
  return { config, logger: createLogger({ level: 'silent' }), account, records };
}

it('a scheduled change whose final read X answers once the stop began is completed by the next start, with one upload', async () => {
  const userId = '500000000000000101';
  const { config, logger, account, records } = await setUp(userId, 'stopped_read');
  const before = await createServices(config, logger);
  await before.library.add(userId, 'b', { data: await colour('#3355aa'), format: 'jpeg' });
  const uploadsOf = () => x.uploads.filter((upload) => upload.userId === account.id).length;

  // The read after the upload arrives: the stop begins (the pipeline closes) before X answers it.
  x.setRequestHook((request) => {
    if (request.path !== X_PATHS.verifyCredentials || request.userId !== account.id || request.stage !== 'received' || uploadsOf() === 0) return;
    x.setRequestHook(undefined);
    before.avatars.close();
  });
  await records.schedules.update(userId, (draft) => void (draft.defaultImage = 'b'));
  await before.scheduler.refresh(userId);
  // X's answer came after the close: the history has the change (it is X's), and the journal keeps it for the next start.
  const history = createAvatarHistory(records.store);
  await eventually(async () => expect((await history.get(userId)).entries).toHaveLength(1), 5_000);
  await sleep(200); // what the stopped process would still do with it
  const journal = createChangeJournal(records.store);
  const left = [];
  for await (const record of journal.all()) left.push(record);
  expect(left.map((record) => record.userId)).toEqual([userId]);
  await before.close();

  const after = await createServices(config, logger);
  try {
    await after.scheduler.start();
    await eventually(async () => expect((await after.schedules.get(userId)).applied?.image).toBe('b'), 5_000);
    expect(uploadsOf()).toBe(1);
  } finally {
    await after.close();
    await records.close();
  }
});

it('a change begun after the stop began is handed to the next start at once instead of being waited for for ever', async () => {
  const userId = '500000000000000102';
  const { config, logger, records } = await setUp(userId, 'begun_late');
  const services = await createServices(config, logger);
  try {
    services.avatars.close();
    const applying = services.avatars.apply(userId, { data: await colour('#aa5533'), format: 'jpeg' }, 'upload', 'late');
    const outcome = await Promise.race([applying.then(() => 'applied', (error: unknown) => error), sleep(10_000).then(() => 'still waiting')]);
    expect(outcome).toBeInstanceOf(ChangeDeferred);
  } finally {
    await services.close();
    await records.close();
  }
});
