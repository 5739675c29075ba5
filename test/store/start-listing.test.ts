/**
^ * What the bot lists at start (the unfinished changes of a stopped process, the pushes to resume) on a
 * Redis store the size of production: 1,000,000 keys of other records and a handful of these. Each step of
 * a listing must stay within the store's deadline; keyv's own iterator asked Redis for 10 keys a time and
 * did not give a step back until it found a record, so listing a nearly empty namespace scanned the whole
 * key space in one step, outlasted the deadline and failed at every start (found by `npm run bench -- scale`).
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/backend.js';
import { createChangeJournal } from '../../src/changes/journal.js';
import { createJobStore } from '../../src/branding/jobs.js';
import { startPrivateRedis, type PrivateServer } from '../support/private-servers.js';

const OTHER_KEYS = 1_000_000;
const BATCH = 10_000;

describe('listing at start on a Redis of 1,000,000 other keys', () => {
  let redis: PrivateServer;
  let store: Store;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    const client = createClient({ url: redis.url });
    await client.connect();
    // Other users' records, as keyv stores them (namespace:key → a JSON string).
    for (let from = 0; from < OTHER_KEYS; from += BATCH) {
      const pairs: Record<string, string> = {};
      for (let i = from; i < from + BATCH; i++) pairs[`vault:user${i}`] = '{"value":"sealed"}';
      await client.mSet(pairs);
    }
    await client.quit();
    store = await openStore(redis.url);
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    await redis?.dispose();
  });

  it('finds the one unfinished change of a stopped process, each step within the deadline', async () => {
    const stopped = createChangeJournal(store, randomUUID());
    const left = await stopped.create({ userId: '42', imageHash: 'h', format: 'jpeg', source: 'upload', label: 'attachment a.jpg', origin: { kind: 'command' }, planned: { op: 'revert', removeId: 'x' } });
    const found = [];
    for await (const record of createChangeJournal(store, randomUUID()).all()) found.push(record.id);
    expect(found).toEqual([left.id]);
  }, 120_000);

  it('finds the push to resume in a server', async () => {
    const jobs = createJobStore(store);
    await store.namespace('branding-guilds').set('guild-1', { active: 'job-1', recent: [] });
    const active = [];
    for await (const job of jobs.activeJobs()) active.push(job);
    expect(active).toEqual([{ guildId: 'guild-1', jobId: 'job-1' }]);
  }, 120_000);
});
