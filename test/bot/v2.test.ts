/**
 * Issue 12, item 1, through the real discord.js client: with X_PROFILE_API=v2 every avatar reaches X by
 * POST /2/media/upload + PUT /2/users/me/profile_image (an /avatar set, a scheduled change, a push), a
 * kit's name and bio by PUT /2/users/me, the banner by v1.1; every request signature-checked by the X
 * server, and no v1.1 profile write sent. With auto and two bot processes on one Redis, the switch one
 * process makes when update_profile_image answers 410 is followed by the other.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../../src/bot/register.js';
import { commands } from '../../commands/index.js';
import { REREAD_MS } from '../../src/x/profile-api.js';
import { startDiscordServer, type DiscordServer, type Interaction, type TestGuild, type TestUser } from '../support/discord-server.js';
import { startXServer, V1_PROFILE_WRITES, X_PATHS, type XServer } from '../support/x-server.js';
import { startBotProcess, type BotProcess } from '../support/bot-process.js';
import { openRecords } from '../support/records.js';
import { parseConfig } from '../../src/config.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { avatarCommand, expectValidSignatures, fixture, image, SLOW_MS, useHarness } from './helpers.js';

const MANAGE_GUILD = 1n << 5n;
/** The profile writes sent since `from`, as "METHOD path". */
const writesSince = (x: XServer, from: number) => x.requests.slice(from).filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
const v1WritesSince = (x: XServer, from: number) => x.requests.slice(from).filter((r) => V1_PROFILE_WRITES.includes(r.path)).map((r) => `${r.method} ${r.path}`);

describe('X_PROFILE_API=v2', () => {
  const h = useHarness({ env: { X_PROFILE_API: 'v2', SCHEDULE_MIN_INTERVAL_MS: '0' } });
  let photo: Buffer;
  beforeAll(async () => {
    photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#ff6600' } }).jpeg().toBuffer();
  });

  it('/avatar set uploads the media and PUTs its id; no v1.1 request at all', async () => {
    const user = h.discord.addMember({ username: 'v2-set' });
    const account = await h.linkUser(user, 'v2_set_x');
    const from = h.x.requests.length;
    const { reply } = await avatarCommand(h, user, 'set', image('me.jpg', fixture('Landscape_5.jpg')));
    expect(reply.embeds[0]?.title).toBe('Avatar updated');
    expect(h.x.uploads.at(-1)).toMatchObject({ api: 'v2', userId: account.id, width: 400, height: 400 });
    expect(reply.embeds[0]?.url).toBe(h.x.profileImageUrl(account.id).replace('_normal', '_400x400'));
    expect(writesSince(h.x, from)).toEqual([`POST ${X_PATHS.mediaUpload}`, `PUT ${X_PATHS.v2ProfileImage}`]);
    expect(h.x.requests.slice(from).filter((r) => r.path.startsWith('/1.1/'))).toEqual([]);
    expectValidSignatures(h.x, from);
  });

  it('/profile apply: avatar by v2, name and bio by PUT /2/users/me, the banner by v1.1', async () => {
    const user = h.discord.addMember({ username: 'v2-kit' });
    const account = await h.linkUser(user, 'v2_kit_x');
    const from = h.x.requests.length;
    const interaction = await h.discord.slash(user, {
      name: 'profile',
      subcommand: 'apply',
      options: { avatar: image('face.jpg', fixture('flowers.jpeg')), banner: image('header.jpg', fixture('concert.jpg')), name: 'Nova 🚀', bio: 'Team Nova 2026' },
    });
    const reply = await interaction.waitForReply((message) => message.embeds.length > 0, SLOW_MS);
    expect(reply.embeds[0]?.title).toBe('Your profile');
    expect(h.x.profile(account.id)).toMatchObject({ name: 'Nova 🚀', description: 'Team Nova 2026' });
    expect(h.x.profileBannerUrl(account.id)).toBeDefined();
    const writes = writesSince(h.x, from);
    expect(writes.filter((w) => w === `PUT ${X_PATHS.v2Me}`)).toHaveLength(2); // name, bio: one change each
    expect(writes.filter((w) => w === `PUT ${X_PATHS.v2ProfileImage}`)).toHaveLength(1);
    expect(writes.filter((w) => w === `POST ${X_PATHS.updateProfileBanner}`)).toHaveLength(1);
    expect(v1WritesSince(h.x, from)).toEqual([]);
    expectValidSignatures(h.x, from);
  });

  it('a scheduled change (the default image) goes through media upload + PUT', async () => {
    const user = h.discord.addMember({ username: 'v2-sched' });
    const account = await h.linkUser(user, 'v2_sched_x');
    const usual = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#777777' } }).jpeg().toBuffer();
    await h.services.library.add(user.id, 'usual', { data: usual, format: 'jpeg' });
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    const from = h.x.requests.length;
    const uploads = h.x.uploads.length;
    const interaction = await h.discord.slash(user, { name: 'schedule', subcommand: 'default', options: { image: 'usual' } });
    await interaction.waitForReply(undefined, SLOW_MS);
    await h.discord.waitFor(() => h.x.uploads.slice(uploads).some((u) => u.userId === account.id), SLOW_MS, 'the scheduled upload');
    const mine = h.x.uploads.slice(uploads).filter((u) => u.userId === account.id);
    expect(mine.map((u) => u.api)).toEqual(['v2']);
    expect(mine[0]!.bytes.equals(usual)).toBe(true);
    expect(v1WritesSince(h.x, from)).toEqual([]);
    expectValidSignatures(h.x, from);
  });

  it('a push reaches each consenting member through media upload + PUT', async () => {
    const admin = h.discord.addMember({ username: 'v2-admin', permissions: MANAGE_GUILD });
    const accounts: string[] = [];
    for (const name of ['v2-m1', 'v2-m2']) {
      const member = h.discord.addMember({ username: name });
      accounts.push((await h.linkUser(member, `${name.replace('-', '_')}_x`)).id);
      await h.services.branding.consent.join(h.discord.guild.id, member.id);
    }
    const from = h.x.requests.length;
    const uploads = h.x.uploads.length;
    const push = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: { image: { attachment: { filename: 'brand.jpg', bytes: photo } }, label: 'V2' } as never });
    const preview = await push.waitForReply((message) => message.content.includes('Push it?'), SLOW_MS);
    const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(preview.components))![1]!;
    const final = await (await push.click(confirm)).waitForReply((message) => message.content.startsWith('Pushed'), 30_000);
    expect(final.content).toMatch(/^Pushed "V2": \d+ succeeded, 0 failed/);
    const pushed = h.x.uploads.slice(uploads).filter((u) => accounts.includes(u.userId));
    expect(pushed.map((u) => u.userId).sort()).toEqual([...accounts].sort());
    expect(pushed.every((u) => u.api === 'v2')).toBe(true);
    expect(v1WritesSince(h.x, from)).toEqual([]);
    expectValidSignatures(h.x, from);
  });
});

// Two processes (a shard manager's two children, one gateway shard each) on one Redis, X_PROFILE_API=auto.
const redisUrl = process.env.REDIS_URL;
describe.each(redisUrl ? [`${redisUrl.replace(/\/\d*$/, '')}/1`] : [])('auto with two bot processes on one Redis (%s)', (storeUrl) => {
  let discord: DiscordServer;
  let x: XServer;
  let bot: BotProcess;
  let dir: string;
  let guilds: TestGuild[];
  const users: TestUser[] = [];

  beforeAll(async () => {
    discord = await startDiscordServer({ shards: 2, maxConcurrency: 2, timeoutMs: 15_000 });
    x = await startXServer();
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-v2-'));
    await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
    guilds = [discord.addGuild({ shard: 0, name: 'Zero' }), discord.addGuild({ shard: 1, name: 'One' })];
    const key = Buffer.alloc(32, 7).toString('base64');
    const records = await openRecords(parseConfig({ ...localServicesEnv(x, dir), STORE_URL: storeUrl, TOKEN_ENCRYPTION_KEY: key }));
    for (const [index, guild] of guilds.entries()) {
      const user = discord.addMember({ guildId: guild.id, username: `auto-${index}-${process.pid}` });
      const account = x.addUser({ screenName: user.username });
      await records.vault.save(user.id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      users.push(user);
    }
    await records.close();
    bot = await startBotProcess(discord, x, 'node', { STORE_URL: storeUrl, TOKEN_ENCRYPTION_KEY: key, SHARD_COUNT: '2', SHARDS_PER_PROCESS: '1', X_PROFILE_API: 'auto' }, 2);
  }, 90_000);
  afterAll(async () => {
    bot?.cleanUp();
    await Promise.all([discord?.close(), x?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function set(index: number, photo: string): Promise<Interaction> {
    const interaction = await discord.slash(users[index]!, { name: 'avatar', subcommand: 'set', options: { image: image(photo, fixture(photo)) } }, { guildId: guilds[index]!.id });
    expect((await interaction.waitForReply(undefined, SLOW_MS)).embeds[0]?.title).toBe('Avatar updated');
    return interaction;
  }

  it('one process meets the 410 and switches; the other, which was on v1.1, follows with no v1.1 attempt', async () => {
    // Both processes start on v1.1 (and have read the record: no switch).
    let from = x.requests.length;
    await set(0, 'flowers.jpeg');
    await set(1, 'flowers.jpeg');
    expect(writesSince(x, from)).toEqual([`POST ${X_PATHS.updateProfileImage}`, `POST ${X_PATHS.updateProfileImage}`]);

    x.switchOffV1(410);
    from = x.requests.length;
    await set(0, 'Landscape_5.jpg');
    // Refused by v1.1 (nothing applied), sent again by v2: one change.
    expect(writesSince(x, from)).toEqual([`POST ${X_PATHS.updateProfileImage}`, `POST ${X_PATHS.mediaUpload}`, `PUT ${X_PATHS.v2ProfileImage}`]);
    const warned = bot.lines.filter((line) => line.includes('switching every process to v2'));
    expect(warned).toHaveLength(1);

    // The other process reads the record again within REREAD_MS: its next write goes straight to v2.
    await new Promise((done) => setTimeout(done, REREAD_MS + 1_000));
    from = x.requests.length;
    await set(1, 'Landscape_5.jpg');
    expect(writesSince(x, from)).toEqual([`POST ${X_PATHS.mediaUpload}`, `PUT ${X_PATHS.v2ProfileImage}`]);
    expect(x.requests.slice(from).filter((r) => r.path.startsWith('/1.1/'))).toEqual([]);
    expect(bot.lines.filter((line) => line.includes('following the recorded switch'))).toHaveLength(1);
    expect(x.uploads.map((u) => u.api)).toEqual(['v1.1', 'v1.1', 'v2', 'v2']);
    expectValidSignatures(x);
  }, 90_000);
});
