/**
 * A scheduled change recovered after a restart is completed once: when a catch-up joins it while the
 * recovery is already recording and telling it, the joiner is told so and only waits (before, it recorded
 * and notified a second time). The schedule record is held while the recovery completes, so its handler
 * waits there and the catch-up joins it at that moment every time. In process, on SQLite, against the
 * local X server.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createChangeJournal } from '../../src/changes/journal.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices } from '../../src/services.js';
import { createAvatarHistory } from '../../src/avatar/history.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { eventually } from '../support/eventually.js';
import { startXServer, type XServer } from '../support/x-server.js';
import { openRecords } from '../support/records.js';

let x: XServer;
let dir: string;

beforeAll(async () => {
  x = await startXServer({ processingDelayMs: 0 });
  dir = mkdtempSync(join(tmpdir(), 'avatar-bot-recovered-once-'));
});
afterAll(async () => {
  await x?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a catch-up joining a recovered scheduled change while the recovery tells it: one notification, one upload', async () => {
  const env = localServicesEnv(x, dir, { TWITTER_PROCESSING_DELAY_MS: '0' });
  const config = parseConfig(env);
  const logger = createLogger({ level: 'silent' });
  const userId = '500000000000000001';
  const account = x.addUser({ screenName: 'recovered_once' });
  const tokens = { token: account.accessToken.token, secret: account.accessToken.secret };
  const data = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#aa3300' } }).jpeg().toBuffer();

  // The process that stops: it scheduled `a`, X accepted the upload, and it died before the read.
  const before = await createServices(config, logger);
  const records = await openRecords(config); // its records, as the test plants them (Services exposes use cases only)
  await records.vault.save(userId, { xUserId: account.id, screenName: account.screenName, ...tokens });
  await before.library.add(userId, 'a', { data, format: 'jpeg' });
  await records.schedules.update(userId, (draft) => void (draft.defaultImage = 'a'));
  const history = createAvatarHistory(records.store);
  const imageHash = await history.putImage(userId, { data, format: 'jpeg' });
  await history.saveOriginal(userId, { saved: false, reason: 'not needed here', savedAt: new Date().toISOString() });
  const previousUrl = (await records.x.verifyCredentials(tokens)).profileImage.normal;
  await records.x.uploadProfileImage(tokens, { data, format: 'jpeg' });
  const journal = createChangeJournal(records.store, randomUUID()); // an owner nobody holds a lease for
  const origin = { kind: 'schedule' as const, target: 'a', image: 'a', label: 'your default image' };
  const record = await journal.create({
    userId,
    imageHash,
    format: 'jpeg',
    source: 'schedule',
    label: 'your default image: a',
    origin,
    planned: { op: 'append', entry: { id: randomUUID(), hash: imageHash, format: 'jpeg', appliedAt: new Date().toISOString(), source: 'schedule', label: 'your default image: a' } },
    previousUrl,
  });
  // Read a second after the restart: time to hold the record below first.
  await journal.update(record, { state: 'accepted', acceptedAt: new Date().toISOString(), readAt: Date.now() + 1000 });
  await before.close();
  const uploads = x.uploads.length;

  const notices: string[] = [];
  const after = await createServices(config, logger, {
    edge: {
      notify: async (_user, _record, notice) => {
        notices.push(notice.kind === 'changed' ? `changed ${notice.url400}` : notice.kind);
        return true;
      },
      membership: async () => 'member',
    },
  });
  try {
    // The schedule record is held, so the recovery's completion waits inside its handler (at most 4 s) ...
    let release: () => void = () => {};
    const holding = records.store.locked(`schedules:${userId}`, () => new Promise<void>((resolve) => (release = resolve)));
    await eventually(async () => expect((await after.avatars.history(userId)).entries).toHaveLength(1), 5_000); // read and recorded: the handler runs
    // ... while the catch-up reads the record from before it and joins the change.
    let joins = 0;
    const pending = after.avatars.pending.bind(after.avatars);
    after.avatars.pending = (user, matches) => {
      joins++;
      return pending(user, matches);
    };
    const catchUp = after.scheduler.start();
    await eventually(async () => expect(joins).toBe(1), 3_000);
    release();
    await holding;
    await catchUp;
    await after.scheduler.stop();

    const finalUrl = x.profileImageUrl(account.id).replace('_normal', '_400x400');
    expect(notices).toEqual([`changed ${finalUrl}`]);
    expect(x.uploads.length).toBe(uploads);
    expect((await after.schedules.get(userId)).applied?.image).toBe('a');
    expect((await after.avatars.history(userId)).entries.map((entry) => entry.url400)).toEqual([finalUrl]);
  } finally {
    await after.close();
    await records.close();
  }
}, 30_000);
