/**
 * `avatar-bot banner`, `avatar-bot profile` and `avatar-bot revert --part`, run as built (dist/) against
 * the X-compatible server: on the operator's own account (tokens from the environment) and, with
 * `--discord-user`, through the bot's own use cases on a real store (each part's history and original,
 * a revoked link marked). Text over X's limits is refused before anything is opened or sent.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeBanner } from '../../src/avatar/normalize.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import { openRecords, type Records } from '../support/records.js';
import { startXServer, X_PATHS, type FakeXUser, type XServer } from '../support/x-server.js';
import { expectOneErrorLine, runCli, type RunOptions } from './run.js';

const fixtures = resolve('test/fixtures/images');
const work = mkdtempSync(join(tmpdir(), 'avatar-bot-cli-profile-'));
const cli = (args: string[], options?: RunOptions) => runCli(work, args, options);

/** 50 flags: 200 UTF-16 units, 50 characters to X. */
const FIFTY_EMOJI = '🇩🇪'.repeat(50);
const FIFTY_ONE_LETTERS = 'a'.repeat(51);

let server: XServer;
let env: Record<string, string>;

beforeAll(async () => {
  // X shows a new banner 300 ms after accepting it; the CLI reads it back every 200 ms.
  server = await startXServer({ processingDelayMs: 300 });
  env = {
    TWITTER_API_URL: server.url,
    TWITTER_CONSUMER_KEY: server.consumer.key,
    TWITTER_CONSUMER_SECRET: server.consumer.secret,
    TWITTER_PROCESSING_DELAY_MS: '200',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STORE_URL: `sqlite://${join(work, 'store.sqlite')}`,
    X_IMAGE_HOSTS: new URL(server.url).host,
    LOG_LEVEL: 'error',
  };
});
afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const requestsOf = (account: FakeXUser) => server.requests.filter((request) => request.oauthParams?.oauth_token === account.accessToken.token);
const profileUpdates = () => server.requests.filter((request) => request.path === X_PATHS.updateProfile).length;

describe('on the operator account (tokens from the environment)', () => {
  let operator: FakeXUser;
  let operatorEnv: Record<string, string>;
  beforeAll(() => {
    operator = server.addUser({ screenName: 'operator', name: 'Operator' });
    operatorEnv = { ...env, TWITTER_ACCESS_TOKEN: operator.accessToken.token, TWITTER_ACCESS_TOKEN_SECRET: operator.accessToken.secret };
  });

  it('banner normalises to 1500x500 with the crop and background given, uploads it, and prints the URL X shows once processed', async () => {
    const image = join(fixtures, 'sharp/Landscape_6.jpg');
    const run = await cli(['banner', image, '--crop', 'contain', '--background', '#00ff00'], { env: operatorEnv });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const upload = server.banners.at(-1)!;
    expect(upload).toMatchObject({ userId: operator.id, width: 1500, height: 500, format: 'jpeg' });
    // X received exactly what `normalize --banner` makes of the file with the same options.
    expect(upload.bytes.equals((await normalizeBanner(readFileSync(image), { crop: 'contain', background: '#00ff00' })).data)).toBe(true);
    const shown = server.profileBannerUrl(operator.id);
    expect(shown).toBeDefined();
    expect(run.stdout).toBe(`${shown}\n`);
  });

  it('banner refuses an image that is not one with exit code 2, sending nothing', async () => {
    const before = server.requests.length;
    expectOneErrorLine(await cli(['banner', join(fixtures, 'sharp/truncated.png')], { env: operatorEnv }), 2, /damaged or incomplete/);
    expect(server.requests.length).toBe(before);
  });

  it('banner refuses a file over the input limit from its size: exit 2, nothing sent, the file never read into memory', async () => {
    const big = join(work, 'huge.jpg');
    truncateSync((writeFileSync(big, ''), big), 100 * 1024 * 1024); // sparse: 100 MB on disk costs nothing
    const peakFile = join(work, 'peak-rss');
    // The child's own peak resident memory (kB), written as it exits.
    const peakRss = `data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(${JSON.stringify(peakFile)},String(process.resourceUsage().maxRSS)))`;
    const before = server.requests.length;
    const run = await cli(['banner', big], { env: operatorEnv, nodeArgs: ['--import', peakRss] });
    expectOneErrorLine(run, 2, /^error: That file is 100 MB; images can be at most 25 MB\.$/);
    expect(server.requests.length).toBe(before);
    // Measured: 87 MB here; reading the file first (the old readFile) peaked at 192 MB.
    expect(Number(readFileSync(peakFile, 'utf8'))).toBeLessThan(150 * 1024);
  });

  it('profile sets the name and the bio in one request; 50 emoji are 50 characters, and accepted', async () => {
    const run = await cli(['profile', '--name', FIFTY_EMOJI, '--bio', 'Hello from the terminal'], { env: operatorEnv });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ name: FIFTY_EMOJI, bio: 'Hello from the terminal' });
    expect(server.profile(operator.id)).toMatchObject({ name: FIFTY_EMOJI, description: 'Hello from the terminal' });
  });

  it("profile --bio '' empties the bio and leaves the name", async () => {
    server.setProfile(operator.id, { name: 'Operator', description: 'something' });
    const run = await cli(['profile', '--bio', ''], { env: operatorEnv });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ bio: '' });
    expect(server.profile(operator.id)).toMatchObject({ name: 'Operator', description: '' });
  });

  it('profile refuses 51 characters, an empty name or no text at all in one line, before any request', async () => {
    const before = server.requests.length;
    expectOneErrorLine(await cli(['profile', '--name', FIFTY_ONE_LETTERS], { env: operatorEnv }), 2, /^error: The --name text has 51 characters; X allows at most 50 in a display name\. Nothing was sent\.$/);
    expectOneErrorLine(await cli(['profile', '--name', 'ok', '--bio', 'b'.repeat(161)], { env: operatorEnv }), 2, /^error: The --bio text has 161 characters; X allows at most 160\. Nothing was sent\.$/);
    expectOneErrorLine(await cli(['profile', '--name', '  '], { env: operatorEnv }), 2, /--name text is empty/);
    expectOneErrorLine(await cli(['profile'], { env: operatorEnv }), 2, /profile needs --name <text>, --bio <text> or both/);
    expect(server.requests.length).toBe(before);
  });
});

describe('with --discord-user, through the bot use cases', () => {
  /** The bot's services and records on the CLI's store, closed before the CLI opens it. */
  async function withBotServices<T>(work: (services: Services, records: Records) => Promise<T>): Promise<T> {
    const services = await createServices(parseConfig(env), createLogger({ level: 'silent' }));
    const records = await openRecords(parseConfig(env));
    try {
      return await work(services, records);
    } finally {
      await records.close();
      await services.close();
    }
  }

  const linkAs = (discordUserId: string, screenName: string, name: string) =>
    withBotServices(async (_services, records) => {
      const account = server.addUser({ screenName, name });
      await records.vault.save(discordUserId, { xUserId: account.id, screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      return account;
    });

  it('banner, profile and revert --part record each part in its own history with its original, and revert each back', async () => {
    const user = '600000000000000001';
    const account = await linkAs(user, 'ivy', 'Ivy');
    server.setProfile(account.id, { description: 'my own bio' });

    const banner = await cli(['banner', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', user], { env });
    expect(banner.stderr).toBe('');
    expect(banner.code).toBe(0);
    expect(banner.stdout).toBe(`${server.profileBannerUrl(account.id)}\n`);
    expect(server.banners.filter((upload) => upload.userId === account.id)).toHaveLength(1);

    const profile = await cli(['profile', '--name', 'Ivy | Team Nova', '--bio', FIFTY_EMOJI, '--discord-user', user], { env });
    expect(profile.stderr).toBe('');
    expect(profile.code).toBe(0);
    expect(JSON.parse(profile.stdout)).toEqual({ name: 'Ivy | Team Nova', bio: FIFTY_EMOJI });
    expect(server.profile(account.id)).toMatchObject({ name: 'Ivy | Team Nova', description: FIFTY_EMOJI });

    await withBotServices(async (services) => {
      const bannerHistory = await services.avatars.partHistory(user, 'banner');
      expect(bannerHistory.entries).toEqual([expect.objectContaining({ source: 'upload', label: 'file flowers.jpeg', url400: server.profileBannerUrl(account.id) })]);
      expect(bannerHistory.original).toMatchObject({ saved: true, none: true }); // Ivy had no banner
      const name = await services.avatars.partHistory(user, 'name');
      expect(name.entries).toEqual([expect.objectContaining({ text: 'Ivy | Team Nova', url400: 'Ivy | Team Nova', label: 'avatar-bot profile' })]);
      expect(name.original).toMatchObject({ saved: true, text: 'Ivy' });
      const bio = await services.avatars.partHistory(user, 'bio');
      expect(bio.entries).toEqual([expect.objectContaining({ text: FIFTY_EMOJI })]);
      expect(bio.original).toMatchObject({ saved: true, text: 'my own bio' });
      // The avatar was not touched.
      expect((await services.avatars.history(user)).entries).toEqual([]);
    });
    expect(server.uploads.filter((upload) => upload.userId === account.id)).toEqual([]);

    for (const [part, shown] of [
      ['name', 'Ivy'],
      ['bio', 'my own bio'],
      ['banner', ''],
    ] as const) {
      const run = await cli(['revert', '--part', part, '--discord-user', user], { env });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ part, shown, original: true });
    }
    expect(server.profile(account.id)).toMatchObject({ name: 'Ivy', description: 'my own bio' });
    expect(server.profileBannerUrl(account.id)).toBeUndefined();
    expect(requestsOf(account).filter((request) => request.path === X_PATHS.removeProfileBanner)).toHaveLength(1);

    // Nothing left to revert: said for the terminal, naming the part and the Discord user.
    const again = await cli(['revert', '--part', 'banner', '--discord-user', user], { env });
    expectOneErrorLine(again, 1, new RegExp(`^error: There is nothing to revert: the X banner of Discord user ${user} is the one it had before the bot changed it\\.$`));
  });

  it("profile --bio '' empties the bio as a recorded change, reverted to the bio from before", async () => {
    const user = '600000000000000002';
    const account = await linkAs(user, 'jon', 'Jon');
    server.setProfile(account.id, { description: 'bio before' });
    const run = await cli(['profile', '--bio', '', '--discord-user', user], { env });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ bio: '' });
    expect(server.profile(account.id)).toMatchObject({ name: 'Jon', description: '' });
    await withBotServices(async (services) => {
      const bio = await services.avatars.partHistory(user, 'bio');
      expect(bio.entries.map((entry) => entry.text)).toEqual(['']);
      expect(bio.original).toMatchObject({ saved: true, text: 'bio before' });
      expect((await services.avatars.partHistory(user, 'name')).entries).toEqual([]); // no --name: the name is left alone
    });
    const back = await cli(['revert', '--part', 'bio', '--discord-user', user], { env });
    expect(JSON.parse(back.stdout)).toEqual({ part: 'bio', shown: 'bio before', original: true });
  });

  it('refuses 51 characters before opening anything: no request, no original saved', async () => {
    const user = '600000000000000003';
    const account = await linkAs(user, 'kim', 'Kim');
    const before = server.requests.length;
    const run = await cli(['profile', '--name', FIFTY_ONE_LETTERS, '--discord-user', user], { env });
    expectOneErrorLine(run, 2, /^error: The --name text has 51 characters; X allows at most 50 in a display name\. Nothing was sent\.$/);
    expect(server.requests.length).toBe(before);
    expect(server.profile(account.id).name).toBe('Kim');
    await withBotServices(async (services) => {
      expect(await services.avatars.partHistory(user, 'name')).toEqual({ entries: [] });
    });
  });

  it('a link X refuses is marked revoked and explained with the CLI command; nothing is recorded', async () => {
    const user = '600000000000000004';
    const account = await linkAs(user, 'lee', 'Lee');
    server.revoke(account.id);
    const updates = profileUpdates();
    const run = await cli(['profile', '--name', 'Lee | Team Nova', '--discord-user', user], { env });
    expectOneErrorLine(run, 1, new RegExp(`revoked.*avatar-bot link --discord-user ${user}\\.$`));
    expect(run.stderr).not.toMatch(/\/(twitter|avatar|library|profile|banner)\b/);
    expect(profileUpdates()).toBe(updates);
    await withBotServices(async (services, records) => {
      expect((await records.vault.require(user)).status).toBe('revoked');
      expect((await services.avatars.partHistory(user, 'name')).entries).toEqual([]);
    });
    // Now the link is known to be revoked: refused before any request.
    const before = server.requests.length;
    const banner = await cli(['banner', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', user], { env });
    expectOneErrorLine(banner, 1, new RegExp(`avatar-bot link --discord-user ${user}\\.$`));
    expect(server.requests.length).toBe(before);
  });

  it('revert checks --part and needs --discord-user', async () => {
    expectOneErrorLine(await cli(['revert', '--part', 'header', '--discord-user', '600000000000000005'], { env }), 2, /--part must be one of avatar, banner, name, bio, not "header"/);
    expectOneErrorLine(await cli(['revert', '--part', 'name'], { env }), 2, /revert needs --discord-user <id>/);
  });
});
