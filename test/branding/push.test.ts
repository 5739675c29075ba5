/**
 * Team branding pushes against the local X server, with the real services on a temp SQLite store:
 * who gets the image (and who is left alone), how many at once, what happens on X's failures, a restart
 * in the middle, one push per server, and reverting to each member's own avatar.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AvatarChanges } from '../../src/avatar/changes.js';
import { memberReason } from '../../src/bot/branding-report.js';
import { createConsentStore, type ConsentStore } from '../../src/branding/consent.js';
import { BrandingError, createPushRunner, describeProgress, type PushProgress, type PushRunner, type PushRunnerDeps } from '../../src/branding/push.js';
import { parseConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import type { StoredImage } from '../../src/avatar/history.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { startXServer, X_PATHS, xFaults, type FakeXUser, type XServer } from '../support/x-server.js';
import { openRecords, type Records } from '../support/records.js';
import { localCoordination, type Coordination } from '../../src/coordination/runs.js';

const logger = createLogger({ level: 'silent' });
let x: XServer;
let dir: string;
let config: Config;
let services: Services;
let consent: ConsentStore;
let nextId = 0n;

/** Each bot process's records, opened beside its services (which expose use cases only; ../support/records.ts), and its coordination. */
const sides = new Map<Services, { records: Records; coordination: Coordination }>();
async function startServices(processConfig: Config): Promise<Services> {
  const started = await createServices(processConfig, logger);
  sides.set(started, { records: await openRecords(processConfig), coordination: localCoordination() });
  return started;
}
const side = (target: Services) => sides.get(target)!;

beforeAll(async () => {
  x = await startXServer();
  dir = mkdtempSync(join(tmpdir(), 'avatar-bot-branding-'));
  config = parseConfig(localServicesEnv(x, dir));
  services = await startServices(config);
  consent = createConsentStore(side(services).records.store);
});

afterAll(async () => {
  await services?.close();
  for (const { records } of sides.values()) await records.close();
  await x?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Member {
  id: string;
  account: FakeXUser;
}

/** A Discord user with an X account; linked in the vault unless told otherwise. */
async function member(target: Services = services, linked = true): Promise<Member> {
  const id = String(300_000_000_000_000_000n + nextId++);
  const account = x.addUser({ screenName: `member${id.slice(-6)}` });
  if (linked) await side(target).records.vault.save(id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
  return { id, account };
}

async function optedIn(guildId: string, count: number): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const m = await member();
    await consent.join(guildId, m.id);
    members.push(m);
  }
  return members;
}

/** The team image, normalised once as the command will. */
async function teamImage(colour: string): Promise<StoredImage> {
  const photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: colour } }).jpeg().toBuffer();
  const avatar = await services.normalizer.normalize(photo);
  return { data: avatar.data, format: avatar.format };
}

/** Counts how many uploads the runner has going at once (until X accepted each), and lets a test act when one
 *  starts or is accepted. */
function instrumented(avatars: AvatarChanges, hooks: { started?: (n: number) => void; finished?: (n: number) => void } = {}) {
  const stats = { inFlight: 0, maxInFlight: 0, started: 0, finished: 0 };
  const wrapped: AvatarChanges = {
    ...avatars,
    async begin(...args) {
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      hooks.started?.(++stats.started);
      try {
        return await avatars.begin(...args);
      } finally {
        stats.inFlight--;
        hooks.finished?.(++stats.finished);
      }
    },
  };
  return { avatars: wrapped, stats };
}

function runner(overrides: Partial<PushRunnerDeps> = {}, target: Services = services, consentStore: ConsentStore = consent): PushRunner {
  return createPushRunner({
    store: side(target).records.store,
    avatars: target.avatars,
    consent: consentStore,
    coordination: side(target).coordination,
    logger,
    concurrency: 4,
    transientRetryMs: 100,
    ...overrides,
  });
}

const uploadsOf = (m: Member) => x.uploads.filter((upload) => upload.userId === m.account.id);

/** The avatar X shows for the member now, as raw pixels. */
async function pixelsAtX(m: Member): Promise<Buffer> {
  const response = await fetch(x.profileImageUrl(m.account.id).replace('_normal', ''));
  return sharp(Buffer.from(await response.arrayBuffer())).removeAlpha().raw().toBuffer();
}

function sameImage(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference += Math.abs(a[i]! - b[i]!);
  return difference / a.length < 2; // a solid colour through JPEG and back moves by a unit at most
}

describe('consent', () => {
  it('keeps who opted in per server, and withdraws everywhere at once', async () => {
    expect(await consent.join('g-consent-1', 'u1')).toBe(true);
    expect(await consent.join('g-consent-1', 'u1')).toBe(false);
    await Promise.all([consent.join('g-consent-1', 'u2'), consent.join('g-consent-2', 'u1'), consent.join('g-consent-1', 'u3')]);
    expect(await consent.members('g-consent-1')).toEqual(['u1', 'u2', 'u3']);
    expect(await consent.has('g-consent-2', 'u1')).toBe(true);
    expect(await consent.leave('g-consent-1', 'u2')).toBe(true);
    expect(await consent.leave('g-consent-1', 'u2')).toBe(false);
    expect(await consent.leaveEverywhere('u1')).toEqual(['g-consent-1', 'g-consent-2']);
    expect(await consent.members('g-consent-1')).toEqual(['u3']);
    expect(await consent.members('g-consent-2')).toEqual([]);
  });
});

describe('a push', () => {
  it('reaches every member who opted in, 4 at a time, once each, and says why the others were not changed', async () => {
    const guild = 'g-push';
    const members = await optedIn(guild, 44);
    const bystanders = [await member(), await member(), await member()]; // never opted in
    const unlinked = await member(services, false);
    const revokedAtX = await member();
    const revokedHere = await member();
    const leavesServer = await member();
    for (const m of [unlinked, revokedAtX, revokedHere, leavesServer]) await consent.join(guild, m.id);
    x.revoke(revokedAtX.account.id);
    await side(services).records.vault.setStatus(revokedHere.id, 'revoked');
    const withdraws = members.at(-1)!;
    const left = new Set([leavesServer.id]);

    x.setUploadLatency(30);
    // Every 10th member's first upload is answered 429 with a reset 1 s later, as X does for accounts that changed too often.
    x.rateLimitFirstAttempts({ fraction: 0.1, resetAfterMs: 1000 });
    const { avatars, stats } = instrumented(services.avatars, {
      // While the first uploads are under way, one member withdraws: they are not uploaded.
      started: (n) => void (n === 1 && consent.leave(guild, withdraws.id)),
    });
    // A 429 waits at least rateLimitWaitMs (60 s in production; the reset here is 1 s away anyway).
    const push = runner({ avatars, isMember: async (_guild, userId) => !left.has(userId), rateLimitWaitMs: 500 });
    const image = await teamImage('#d62828');
    const requestsBefore = x.requests.length;
    const jobId = await push.start({ guildId: guild, adminId: 'admin', image, label: 'spring team colours' });
    const progress: Array<PushProgress & { at: number }> = [];
    const startedAt = Date.now();
    const job = await push.run(jobId, (p) => progress.push({ ...p, at: Date.now() }));
    x.setUploadLatency(0);
    x.rateLimitFirstAttempts({ fraction: 0, resetAfterMs: 0 });

    expect(job.state).toBe('done');
    expect(job.targets).toHaveLength(48);
    const uploaded = members.slice(0, -1);
    for (const m of uploaded) {
      expect(job.results[m.id]).toMatchObject({ status: 'done', previous: 'original' });
      expect(uploadsOf(m).map((upload) => upload.bytes.equals(image.data))).toEqual([true]);
    }
    for (const m of [...bystanders, withdraws, unlinked, revokedAtX, revokedHere, leavesServer]) expect(uploadsOf(m)).toEqual([]);
    // Results keep a kind, worded where they are shown.
    const reasonOf = (userId: string) => memberReason(job.results[userId]!, 'en-US');
    expect(job.results[withdraws.id]).toMatchObject({ status: 'skipped', kind: 'not-opted-in' });
    expect(reasonOf(withdraws.id)).toBe('no longer opted in');
    expect(job.results[leavesServer.id]).toMatchObject({ status: 'skipped', kind: 'left-server' });
    expect(reasonOf(leavesServer.id)).toBe('left the server');
    expect(job.results[unlinked.id]).toMatchObject({ status: 'failed', kind: 'not-linked' });
    expect(reasonOf(unlinked.id)).toBe('not linked');
    expect(job.results[revokedAtX.id]).toMatchObject({ status: 'failed', kind: 'token-revoked' });
    expect(reasonOf(revokedAtX.id)).toBe('link revoked');
    expect(job.results[revokedHere.id]).toMatchObject({ status: 'failed', kind: 'link-revoked' });
    expect(reasonOf(revokedHere.id)).toBe('link revoked');
    for (const result of Object.values(job.results)) expect(result.reason).toBeUndefined();

    // X rate-limited some first uploads; those members waited for the reset and were uploaded once after it.
    const limited = x.requests.slice(requestsBefore).filter((request) => request.path === X_PATHS.updateProfileImage && request.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(3);
    expect(uploaded.filter((m) => job.results[m.id]!.attempts === 2)).toHaveLength(limited.length);

    expect(stats.maxInFlight).toBe(4);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ done: 43, failed: 3, skipped: 2, total: 48 });
    expect(describeProgress(last)).toBe('48/48 · 3 failed · 2 skipped');
    expect(describeProgress({ phase: 'push', done: 35, failed: 2, skipped: 0, total: 120, etaSeconds: 38 })).toBe('37/120 · 2 failed · about 40 s left');
    // While running, at most one report per 2 s; the last one comes when the push is finished.
    progress.slice(0, -1).forEach((p, i) => expect(p.at - (i === 0 ? startedAt : progress[i - 1]!.at)).toBeGreaterThanOrEqual(1990));

    const [status] = await push.status(guild);
    expect(status).toMatchObject({ id: jobId, state: 'done', label: 'spring team colours' });
    expect(Object.keys(status!.previous ?? {})).toHaveLength(43);
  });

  it('retries a member after X answers 503 for a while', async () => {
    const guild = 'g-503';
    const [m] = await optedIn(guild, 1);
    // 4 answers: the X client's own 3 retries are used up, so the runner sees the failure and retries later.
    x.fail(xFaults.serviceUnavailable(X_PATHS.updateProfileImage, { times: 4 }));
    const push = runner();
    const job = await push.run(await push.start({ guildId: guild, adminId: 'admin', image: await teamImage('#2a9d8f'), label: '503' }));
    expect(job.results[m!.id]).toMatchObject({ status: 'done' });
    expect(job.results[m!.id]!.attempts).toBeGreaterThanOrEqual(2);
    expect(uploadsOf(m!)).toHaveLength(1);
  });

  it('after a 429 whose reset is already past, waits at least a minute before trying again, doubling each time', async () => {
    const guild = 'g-past-reset';
    const [target] = await optedIn(guild, 1);
    // Waits move a clock forward instead of passing: a minute of backoff costs nothing here.
    const virtual = { offset: 0 };
    const clock = { now: () => Date.now() + virtual.offset };
    const sleep = async (ms: number) => void (virtual.offset += ms);
    const attemptsAt: number[] = [];
    const avatars: AvatarChanges = {
      ...services.avatars,
      begin(...args) {
        attemptsAt.push(clock.now());
        return services.avatars.begin(...args);
      },
    };
    const push = runner({ avatars, clock, sleep });
    const jobId = await push.start({ guildId: guild, adminId: 'admin', image: await teamImage('#2a9d8f'), label: 'past reset' });
    const requestsBefore = x.requests.length;
    x.fail(xFaults.rateLimited(X_PATHS.updateProfileImage, Math.floor(Date.now() / 1000) - 30, { times: 3 }));
    const job = await push.run(jobId);

    expect(job.results[target!.id]).toMatchObject({ status: 'done', attempts: 4 });
    // Four requests to X in all: three 429s, then the upload, not one retry a quarter second after the other.
    expect(x.requests.slice(requestsBefore).filter((request) => request.path === X_PATHS.updateProfileImage).map((request) => request.status)).toEqual([429, 429, 429, 200]);
    const gaps = attemptsAt.slice(1).map((at, i) => at - attemptsAt[i]!);
    expect(gaps).toHaveLength(3);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(60_000 * 2 ** i));
  });

  it('is one per server at a time', async () => {
    const guild = 'g-once';
    await optedIn(guild, 3);
    const push = runner();
    const image = await teamImage('#264653');
    const [first, second] = await Promise.allSettled([
      push.start({ guildId: guild, adminId: 'a', image, label: 'first' }),
      push.start({ guildId: guild, adminId: 'b', image, label: 'second' }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const refusal = (second as PromiseRejectedResult).reason as BrandingError;
    expect(refusal).toBeInstanceOf(BrandingError);
    expect(refusal.kind).toBe('push-running');
    expect(refusal.userMessage).toMatch(/^A push is already running in this server: "first" is being pushed \(0\/3\)/);

    await push.run((first as PromiseFulfilledResult<string>).value);
    // Once it is finished, the next one may start.
    await expect(push.start({ guildId: guild, adminId: 'b', image, label: 'second' })).resolves.toBeTypeOf('string');
    expect((await push.status(guild)).map((job) => job.label)).toEqual(['second', 'first']);
  });

  it('carries on after a restart without uploading anyone twice or leaving anyone out, in one process of several', async () => {
    // A bot process with its own services, stopped in the middle of a push and started again on the same store.
    const storeUrl = `sqlite://${join(dir, 'restart.sqlite')}`;
    const restartConfig = { ...config, storeUrl };
    const first = await startServices(restartConfig);
    const firstConsent = createConsentStore(side(first).records.store);
    const guild = 'g-restart';
    const members: Member[] = [];
    for (let i = 0; i < 24; i++) {
      const m = await member(first);
      await firstConsent.join(guild, m.id);
      members.push(m);
    }
    x.setUploadLatency(40);
    let pushA!: PushRunner;
    const { avatars } = instrumented(first.avatars, { finished: (n) => void (n === 8 && pushA.stop()) });
    pushA = runner({ avatars }, first, firstConsent);
    const jobId = await pushA.start({ guildId: guild, adminId: 'admin', image: await teamImage('#e9c46a'), label: 'restart' });
    const running = pushA.run(jobId);

    // A second process sharing the store and the coordination finds the job leased and leaves it alone.
    await new Promise((done) => setTimeout(done, 20));
    const other = runner({}, first, firstConsent);
    expect(await other.resume()).toEqual({ carriedOn: [], heldElsewhere: [jobId] });
    await other.stop();

    const stopped = await running;
    expect(stopped.state).toBe('running');
    const doneBefore = members.filter((m) => stopped.results[m.id]?.status === 'done');
    expect(doneBefore.length).toBeGreaterThanOrEqual(8);
    expect(doneBefore.length).toBeLessThan(24);
    // Members prepared ahead (their avatar downloaded, their original saved) but not uploaded when the stop came
    // are left as they were: no original, no upload.
    const notUploaded = members.filter((m) => stopped.results[m.id]?.status === 'pending');
    const downloaded = (m: Member) => x.requests.some((request) => request.path.startsWith(`/profile_images/${m.account.id}/`));
    expect(notUploaded.filter(downloaded).length).toBeGreaterThan(0);
    for (const m of notUploaded) {
      expect(uploadsOf(m)).toEqual([]);
      expect(await first.avatars.history(m.id)).toEqual({ entries: [] });
    }
    // One upload reached X but the process died before recording it: its result still says pending.
    const unrecorded = doneBefore[0]!;
    await side(first).records.store.namespace('branding-results').set(`${jobId}:push:${unrecorded.id}`, { ...stopped.results[unrecorded.id]!, status: 'pending' });
    await first.close();

    const second = await startServices(restartConfig);
    const pushB = runner({}, second, createConsentStore(side(second).records.store));
    expect(await pushB.resume()).toEqual({ carriedOn: [jobId], heldElsewhere: [] });
    await pushB.run(jobId); // joins the resumed run
    x.setUploadLatency(0);
    const [job] = await pushB.status(guild);
    expect(job?.state).toBe('done');
    for (const m of members) {
      expect(job?.results[m.id]?.status).toBe('done');
      expect(uploadsOf(m)).toHaveLength(1);
    }
    expect(job?.results[unrecorded.id]?.entryId).toBe((await second.avatars.history(unrecorded.id)).entries.at(-1)?.id);
    await pushB.stop();
    await second.close();
  });
});

describe('reverting a push', () => {
  it("gives each member back the avatar they had before, unless they changed it since", async () => {
    const guild = 'g-revert';
    const members = await optedIn(guild, 6);
    // Half of them had already set an avatar with the bot; the others still have the one they came with.
    const earlier = await teamImage('#8338ec');
    for (const m of members.slice(0, 3)) await services.avatars.apply(m.id, earlier, 'upload', 'earlier photo');
    const before = await Promise.all(members.map(pixelsAtX));

    const push = runner();
    const jobId = await push.start({ guildId: guild, adminId: 'admin', image: await teamImage('#ff006e'), label: 'match day' });
    const pushed = await push.run(jobId);
    expect(members.map((m) => pushed.results[m.id]?.status)).toEqual(Array(6).fill('done'));
    expect(members.map((m) => pushed.previous?.[m.id] === 'original')).toEqual([false, false, false, true, true, true]);

    const changedSince = members[5]!;
    const own = await teamImage('#3a86ff');
    await services.avatars.apply(changedSince.id, own, 'upload', 'own photo');

    const reverted = await push.revert(guild, { adminId: 'admin' });
    expect(reverted.state).toBe('reverted');
    expect(reverted.reverts?.[changedSince.id]).toMatchObject({ status: 'skipped', kind: 'changed-since' });
    expect(memberReason(reverted.reverts![changedSince.id]!, 'en-US')).toBe('changed avatar since the push');
    for (const [i, m] of members.slice(0, 5).entries()) {
      expect(reverted.reverts?.[m.id]?.status).toBe('done');
      expect(sameImage(await pixelsAtX(m), before[i]!)).toBe(true);
    }
    for (const m of members.slice(0, 3)) {
      expect(uploadsOf(m).at(-1)?.bytes.equals(earlier.data)).toBe(true);
      expect((await services.avatars.history(m.id)).entries.map((entry) => entry.label)).toEqual(['earlier photo']);
    }
    expect(uploadsOf(changedSince).at(-1)?.bytes.equals(own.data)).toBe(true);

    await expect(push.revert(guild)).rejects.toMatchObject({ kind: 'cannot-revert' });
  });
});
