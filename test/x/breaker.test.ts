/**
 * Issue 12 item 2: X refusing the app (not the user) opens one breaker for every process. Two sets of the
 * real services (two bot processes' cores) on one Redis database, the X-compatible server counting every
 * write that reaches it; the clock is moved, never slept through. Needs REDIS_URL (.ci/run sets it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import type { StoredImage } from '../../src/avatar/history.js';
import { BREAKER_CACHE_MS, type BreakerEvent } from '../../src/x/breaker.js';
import { errorFromResponse, XApiError } from '../../src/x/errors.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { eventually } from '../support/eventually.js';
import { openRecords, type Records } from '../support/records.js';
import { startPrivateRedis } from '../support/private-servers.js';
import { startXServer, X_WRITE_PATHS, type AppBlockKind, type FakeXUser, type XServer } from '../support/x-server.js';

const redisUrl = process.env.REDIS_URL;
const logger = createLogger({ level: 'silent' });

/** Each app-level refusal of X's, and the variant of `app-blocked` it is. */
const KINDS: Array<[AppBlockKind, string]> = [
  [453, 'access-level'],
  [261, 'write-permission'],
  [220, 'write-permission'],
  [416, 'app-suspended'],
  ['credits', 'credits'],
  ['usage-cap', 'usage-cap'],
];

describe("X's app-level answers are read as the app's", () => {
  it.each([
    [402, { title: 'Payment Required', detail: 'credits depleted', type: 'https://api.x.com/2/problems/credits-depleted' }, 'credits'],
    [429, { title: 'UsageCapExceeded', detail: 'Usage cap exceeded: Monthly product cap', type: 'https://api.x.com/2/problems/usage-capped' }, 'usage-cap'],
    [401, { errors: [{ code: 416, message: 'Invalid / suspended application' }] }, 'app-suspended'],
  ] as const)('HTTP %i → app-blocked', (status, body, variant) => {
    const error = errorFromResponse(status, {}, JSON.stringify(body));
    expect({ kind: error.kind, variant: error.variant }).toEqual({ kind: 'app-blocked', variant });
  });

  it("a user's own refusals and an ordinary 429 keep their kinds", () => {
    expect(errorFromResponse(401, {}, JSON.stringify({ errors: [{ code: 89, message: 'Invalid or expired token.' }] })).kind).toBe('token-revoked');
    expect(errorFromResponse(403, {}, JSON.stringify({ errors: [{ code: 326, message: 'locked' }] })).kind).toBe('account-locked');
    expect(errorFromResponse(403, {}, JSON.stringify({ errors: [{ code: 64, message: 'suspended' }] })).kind).toBe('account-locked');
    expect(errorFromResponse(429, {}, JSON.stringify({ errors: [{ code: 88, message: 'Rate limit exceeded' }] })).kind).toBe('rate-limited');
  });
});

describe.each(redisUrl ? [`${redisUrl.replace(/\/\d*$/, '')}/2`] : [])('the breaker across two processes on one Redis (%s)', (storeUrl) => {
  const clock = { offset: 0, now: () => Date.now() + clock.offset };
  let x: XServer;
  let dir: string;
  let config: Config;
  let records: Records;
  const events: Array<BreakerEvent & { process: number }> = [];
  let one: Services;
  let two: Services;
  let image: StoredImage;
  let nextId = 0n;

  const start = (process: number) =>
    createServices(config, logger, {
      clock,
      edge: { notify: async () => false, membership: async () => 'member', tellOperator: async (event) => void events.push({ ...event, process }) },
    });

  beforeAll(async () => {
    const { createClient } = await import('@keyv/redis');
    const redis = createClient({ url: storeUrl });
    await redis.connect();
    await redis.flushDb(); // this suite's own database index
    await redis.quit();
    x = await startXServer();
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-breaker-'));
    // v1.1 as set: in auto a 453 first moves the app to v2 (X_PROFILE_API; test/x/v2.test.ts), and only v2's refusal opens the breaker.
    config = parseConfig(localServicesEnv(x, dir, { STORE_URL: storeUrl, SCHEDULE_MIN_INTERVAL_MS: '0', X_PROFILE_API: 'v1.1' }));
    records = await openRecords(config);
    [one, two] = await Promise.all([start(1), start(2)]);
    const data = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#2a9d8f' } }).jpeg().toBuffer();
    image = { data, format: 'jpeg' };
  }, 30_000);

  afterAll(async () => {
    await Promise.allSettled([one?.close(), two?.close()]);
    await records?.close();
    await x?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function linked(): Promise<{ id: string; account: FakeXUser }> {
    const id = String(400_000_000_000_000_000n + nextId++);
    const account = x.addUser({ screenName: `breaker${id.slice(-6)}` });
    await records.vault.save(id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    return { id, account };
  }
  const writes = () => x.requests.filter((request) => X_WRITE_PATHS.includes(request.path)).length;
  const uploadsOf = (account: FakeXUser) => x.uploads.filter((upload) => upload.userId === account.id).length;
  const refused = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(XApiError);
    return error as XApiError;
  };

  it.each(KINDS)(
    'X answers %s: the breaker opens for both processes, nothing more reaches X, and after one probe the waiting schedule and push finish once',
    async (kind, variant) => {
      const user = await linked();
      const scheduled = await linked();
      const member = await linked();
      const guild = `9${String(nextId).padStart(17, '0')}`;
      events.length = 0;
      x.blockApp(kind);
      const before = writes();

      // Process one sends a write: X refuses the app. The caller hears `app-blocked`, with the next probe.
      const first = await refused(one.avatars.apply(user.id, image, 'upload', 'test'));
      expect({ kind: first.kind, variant: first.variant }).toEqual({ kind: 'app-blocked', variant });
      expect(first.resetAt!.getTime()).toBeGreaterThanOrEqual(clock.now() + 55_000);
      expect(writes()).toBe(before + 1);
      expect(events.map(({ kind: event, process }) => [event, process])).toEqual([['opened', 1]]);
      expect(events[0]).toMatchObject({ reason: variant });

      // Process two refuses within its cache time, before sending.
      await eventually(async () => expect((await two.breaker.status())?.open).toBe(true), BREAKER_CACHE_MS + 2_000);
      const second = await refused(two.avatars.apply(user.id, image, 'upload', 'test'));
      expect({ kind: second.kind, variant: second.variant }).toEqual({ kind: 'app-blocked', variant });

      // A scheduled change (process one) and a push (process two) meet the breaker and wait: no failure of the user.
      await one.library.add(scheduled.id, 'img', image);
      await one.scheduler.edit(scheduled.id, (draft) => {
        draft.notify = { mode: 'off' };
        draft.defaultImage = 'img';
      });
      await eventually(async () => expect((await records.schedules.get(scheduled.id)).retry?.appBlocked).toBeGreaterThanOrEqual(1), 10_000);
      const waiting = await records.schedules.get(scheduled.id);
      expect(waiting.lastRun).toBeUndefined();
      expect(waiting.suspended).toBeUndefined();
      expect(waiting.pendingNotice).toBeUndefined();
      expect(waiting.retry?.rateLimits).toBe(0);

      await two.branding.consent.join(guild, member.id);
      const jobId = await two.branding.pushes.start({ guildId: guild, adminId: 'admin', image, label: `breaker ${kind}` });
      const run = two.branding.pushes.run(jobId);
      await eventually(async () => {
        const [job] = await two.branding.pushes.status(guild);
        expect(job!.results[member.id]).toMatchObject({ status: 'pending', kind: 'app-blocked' });
      }, 10_000);
      expect(writes()).toBe(before + 1); // nothing after the first refusal reached X
      expect(events).toHaveLength(1);

      // X lets the app write again. At the next probe exactly one waiting write goes to X and closes the breaker for both.
      x.recoverApp();
      const { nextProbeAt } = (await one.breaker.status())!;
      clock.offset += nextProbeAt - clock.now() + 1_000;
      await one.scheduler.refresh(scheduled.id);
      await eventually(async () => expect(events.map((event) => event.kind)).toEqual(['opened', 'closed']), 15_000);
      // A waiting write that met the probe under way tries again a little later: move on past that too.
      clock.offset += 20_000;
      await one.scheduler.refresh(scheduled.id);
      const job = await run;
      expect(job.results[member.id]).toMatchObject({ status: 'done' });
      await eventually(async () => expect((await records.schedules.get(scheduled.id)).applied?.image).toBe('img'), 15_000);
      expect([uploadsOf(scheduled.account), uploadsOf(member.account), uploadsOf(user.account)]).toEqual([1, 1, 0]);
      await eventually(async () => expect([(await one.breaker.status())?.open, (await two.breaker.status())?.open]).toEqual([false, false]), BREAKER_CACHE_MS + 2_000);
      // And an interactive write goes through again, in either process.
      await two.avatars.apply(user.id, image, 'upload', 'test');
      expect(uploadsOf(user.account)).toBe(1);
      expect(events).toHaveLength(2);
    },
    60_000,
  );

  it('a failed probe re-opens with the backoff doubled, and one probe per round crosses to X whoever asks', async () => {
    const a = await linked();
    const b = await linked();
    events.length = 0;
    x.blockApp(453);
    await refused(one.avatars.apply(a.id, image, 'upload', 'test'));
    const opened = (await one.breaker.status())!;
    expect(opened.backoffMs).toBe(60_000);
    await eventually(async () => expect((await two.breaker.status())?.openedAt).toBe(opened.openedAt), BREAKER_CACHE_MS + 2_000);
    for (const backoffMs of [120_000, 240_000]) {
      const state = (await one.breaker.status())!;
      clock.offset += state.nextProbeAt - clock.now() + 1_000;
      const before = writes();
      // Both processes have a write waiting at the probe time: one reaches X.
      const answers = await Promise.all([refused(one.avatars.apply(a.id, image, 'upload', 'test')), refused(two.avatars.apply(b.id, image, 'upload', 'test'))]);
      expect(answers.map((answer) => answer.kind)).toEqual(['app-blocked', 'app-blocked']);
      expect(writes()).toBe(before + 1);
      await eventually(async () => expect((await one.breaker.status())?.backoffMs).toBe(backoffMs), BREAKER_CACHE_MS + 2_000);
    }
    expect(events.map((event) => event.kind)).toEqual(['opened']); // told once per opening, not per probe
    x.recoverApp();
    clock.offset += (await one.breaker.status())!.nextProbeAt - clock.now() + 1_000;
    await one.avatars.apply(a.id, image, 'upload', 'test');
    expect(events.map((event) => event.kind)).toEqual(['opened', 'closed']);
    await eventually(async () => expect((await two.breaker.status())?.open).toBe(false), BREAKER_CACHE_MS + 2_000);
  }, 60_000);

  it('when X refuses reads too, a read after the probe time counts as the failed probe: the backoff doubles, no retry storm', async () => {
    const user = await linked();
    events.length = 0;
    x.blockApp(453, 'all');
    const sent = () => x.requests.filter((request) => request.oauthParams?.oauth_token === user.account.accessToken.token).length;
    await refused(one.avatars.apply(user.id, image, 'upload', 'test'));
    const opened = (await one.breaker.status())!;
    expect(opened).toMatchObject({ open: true, reason: 'access-level', backoffMs: 60_000 });
    clock.offset += opened.nextProbeAt - clock.now() + 1_000;
    const before = sent();
    const again = await refused(one.avatars.apply(user.id, image, 'upload', 'test'));
    expect(sent()).toBe(before + 1); // one request, and the next attempt is told to wait the doubled backoff
    expect((await one.breaker.status())!.backoffMs).toBe(120_000);
    expect(again.resetAt!.getTime()).toBe((await one.breaker.status())!.nextProbeAt);
    expect(again.resetAt!.getTime()).toBeGreaterThan(clock.now() + 100_000);
    x.recoverApp();
    clock.offset += (await one.breaker.status())!.nextProbeAt - clock.now() + 1_000;
    await one.avatars.apply(user.id, image, 'upload', 'test');
    expect(events.map((event) => event.kind)).toEqual(['opened', 'closed']);
  }, 30_000);

  it("the consumer key refused for three users in a row is the app's; one user's revoked token is not", async () => {
    events.length = 0;
    const revoked = await linked();
    x.revoke(revoked.account.id);
    expect((await refused(one.avatars.apply(revoked.id, image, 'upload', 'test'))).kind).not.toBe('app-blocked');
    expect((await one.breaker.status())?.open).toBe(false);

    const users = [await linked(), await linked(), await linked()];
    // Code 32 from X for every signed request, as when the consumer key was regenerated.
    x.fail({ path: /^\/1\.1\//, status: 401, body: { errors: [{ code: 32, message: 'Could not authenticate you.' }] }, times: Infinity });
    const kinds: string[] = [];
    for (const user of users) kinds.push((await refused(one.avatars.apply(user.id, image, 'upload', 'test'))).kind);
    expect(kinds).toEqual(['auth', 'auth', 'app-blocked']);
    expect((await one.breaker.status())).toMatchObject({ open: true, reason: 'consumer-key' });
    expect(events).toMatchObject([{ kind: 'opened', reason: 'consumer-key' }]);
    x.clearFaults();
    clock.offset += (await one.breaker.status())!.nextProbeAt - clock.now() + 1_000;
    await one.avatars.apply(users[0]!.id, image, 'upload', 'test');
    expect((await one.breaker.status())?.open).toBe(false);
  }, 60_000);
});

describe('a store outage', () => {
  it('neither opens nor closes the breaker: each process keeps what it last read', async () => {
    const redis = await startPrivateRedis();
    const x = await startXServer();
    const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-breaker-outage-'));
    const config = parseConfig(localServicesEnv(x, dir, { STORE_URL: redis.url, X_PROFILE_API: 'v1.1' }));
    const records = await openRecords(config);
    const services = await createServices(config, logger);
    try {
      const account = x.addUser({ screenName: 'outage' });
      await records.vault.save('400000000000000999', { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      const image = { data: await sharp({ create: { width: 400, height: 400, channels: 3, background: '#123456' } }).jpeg().toBuffer(), format: 'jpeg' as const };
      // Closed, then the store goes away: still closed (a failed read is no app-level answer).
      expect((await services.breaker.status())?.open).toBeFalsy();
      await redis.stop();
      await new Promise((done) => setTimeout(done, BREAKER_CACHE_MS + 200));
      expect((await services.breaker.status())?.open).toBeFalsy();
      await redis.start();
      await eventually(async () => expect(await services.pingStore()).toBeUndefined(), 10_000);
      // Open, then the store goes away: still open, and it comes back open from the store.
      x.blockApp(416);
      await expect(services.avatars.apply('400000000000000999', image, 'upload', 'test')).rejects.toMatchObject({ kind: 'app-blocked', variant: 'app-suspended' });
      await redis.stop();
      await new Promise((done) => setTimeout(done, BREAKER_CACHE_MS + 200));
      expect(await services.breaker.status()).toMatchObject({ open: true, reason: 'app-suspended' });
      await redis.start();
      await new Promise((done) => setTimeout(done, BREAKER_CACHE_MS + 200));
      await eventually(async () => expect(await services.breaker.status()).toMatchObject({ open: true, reason: 'app-suspended' }), 10_000);
    } finally {
      await services.close();
      await records.close();
      await x.close();
      await redis.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
