/**
 * X processes each upload for 5 s before its URL shows. A push holds a worker only while an upload talks
 * to X; the waits for the final URLs overlap instead of queueing behind the workers. Measured at the X
 * server: for each member, the span from the accepted upload to the read that found the new URL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createConsentStore } from '../../src/branding/consent.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import { openRecords, type Records } from '../support/records.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { startXServer, X_PATHS, type FakeXUser, type XServer } from '../support/x-server.js';

const PROCESSING_MS = 5_000;
const CONCURRENCY = 2;
let x: XServer;
let dir: string;
let services: Services;
let records: Records;

beforeAll(async () => {
  x = await startXServer({ processingDelayMs: PROCESSING_MS });
  dir = mkdtempSync(join(tmpdir(), 'avatar-bot-overlap-'));
  const env = localServicesEnv(x, dir, { TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_MS), BRANDING_CONCURRENCY: String(CONCURRENCY) });
  services = await createServices(parseConfig(env), createLogger({ level: 'silent' }));
  records = await openRecords(parseConfig(env)); // to plant links and consent (Services exposes use cases only)
});
afterAll(async () => {
  await services?.close();
  await records?.close();
  await x?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a push of 8 members at concurrency 2 waits for X once, with all 8 waits overlapping, and 2 uploads at a time', async () => {
  const guild = 'g-overlap';
  const consent = createConsentStore(records.store);
  const accounts = new Map<string, FakeXUser>();
  for (let i = 0; i < 8; i++) {
    const id = String(400_000_000_000_000_000n + BigInt(i));
    const account = x.addUser({ screenName: `overlap${i}` });
    await records.vault.save(id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    await consent.join(guild, id);
    accounts.set(account.accessToken.token, account);
  }
  x.setUploadLatency(50);
  x.resetMaxUploadsInFlight();
  const photo = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#3a86ff' } }).jpeg().toBuffer();
  const image = await services.normalizer.normalize(photo);
  const pushes = services.branding.pushes;
  const requestsBefore = x.requests.length;
  const job = await pushes.run(await pushes.start({ guildId: guild, adminId: 'admin', image: { data: image.data, format: image.format }, label: 'overlap' }));
  x.setUploadLatency(0);

  expect(Object.values(job.results).map((result) => result.status)).toEqual(Array(8).fill('done'));
  expect(x.maxUploadsInFlight).toBeLessThanOrEqual(CONCURRENCY);
  // Each member's wait: from X's answer to the upload to the next read of that member's profile.
  const requests = x.requests.slice(requestsBefore);
  const owner = (request: (typeof requests)[number]) => accounts.get(request.oauthParams?.oauth_token ?? '')?.id;
  const waits = x.uploads
    .filter((upload) => [...accounts.values()].some((account) => account.id === upload.userId))
    .map((upload) => {
      const read = requests.find((request) => request.path === X_PATHS.verifyCredentials && owner(request) === upload.userId && request.at > upload.at);
      return { from: upload.at, to: read!.at };
    });
  expect(waits).toHaveLength(8);
  const overlapping = Math.max(...waits.map((wait) => waits.filter((other) => other.from <= wait.from && other.to > wait.from).length));
  // Holding a worker through the wait (as before) allows at most CONCURRENCY waits at once.
  expect(overlapping).toBe(8);
}, 60_000);
