/**
 * kill -9 of the bot process in the middle of an avatar change, then a restart on the same store: every
 * change completes exactly once (one upload at X), the saved original is the user's real avatar from
 * before the bot (never the bot's own upload), revert restores it, and the command's reply is finished
 * with the final URL. Also a team push of 4 killed after X accepted the first upload: each member gets
 * the team image exactly once. The bot runs as its own process (`avatar-bot start`); X and Discord are
 * the local test servers, so the kill lands at a known point of the change:
 *
 * - after the intent record: X holds the verify_credentials that reads the avatar to save as original
 * - after the upload was sent: X holds the upload before applying it (then drops it)
 * - after X accepted it: X applies the upload and the bot dies before the answer
 * - during the wait: the bot logged X's acceptance; X processes for 1.5 s before the new URL shows
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJobStore } from '../../src/branding/jobs.js';
import { openStore } from '../../src/store/backend.js';
import { createSecretBox } from '../../src/store/cipher.js';
import { createAvatarHistory } from '../../src/avatar/history.js';
import { createAvatarLibrary } from '../../src/library/store.js';
import { createScheduleStore } from '../../src/schedule/store.js';
import { createTokenVault } from '../../src/accounts/vault.js';
import { startBotProcess, type BotProcess } from '../support/bot-process.js';
import { startDiscordServer, type DiscordServer, type TestUser } from '../support/discord-server.js';
import { startXServer, X_PATHS, type FakeXUser, type RequestHook, type XServer } from '../support/x-server.js';
import { fixture, image } from '../bot/helpers.js';
import { eventually } from '../support/eventually.js';

const PROCESSING_MS = 1500;
const MANAGE_GUILD = 1n << 5n;

let discord: DiscordServer;
let x: XServer;
const bots: BotProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  discord = await startDiscordServer();
  x = await startXServer({ processingDelayMs: PROCESSING_MS });
});
// One bot at a time on the Discord server: a bot left running would answer the next test's interactions.
afterEach(async () => {
  for (const bot of bots.splice(0)) {
    bot.cleanUp();
    await bot.exited;
  }
});
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await Promise.all([discord?.close(), x?.close()]);
});

/** One bot "installation": a store and a key that survive its restarts. */
function installation() {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-crash-'));
  dirs.push(dir);
  const key = randomBytes(32).toString('base64');
  const env = { STORE_URL: `sqlite://${join(dir, 'bot.sqlite')}`, TOKEN_ENCRYPTION_KEY: key, TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_MS), SCHEDULE_MIN_INTERVAL_MS: '0' };
  const withStore = async <T>(work: (parts: { store: Awaited<ReturnType<typeof openStore>> }) => Promise<T>): Promise<T> => {
    const store = await openStore(env.STORE_URL);
    try {
      return await work({ store });
    } finally {
      await store.close();
    }
  };
  const start = async () => {
    const bot = await startBotProcess(discord, x, 'node', env);
    bots.push(bot);
    return bot;
  };
  const link = (user: TestUser, account: FakeXUser) =>
    withStore(async ({ store }) => {
      const vault = createTokenVault(store, createSecretBox(Buffer.from(key, 'base64')));
      await vault.save(user.id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    });
  const history = (userId: string) => withStore(({ store }) => createAvatarHistory(store).get(userId));
  return { env, start, link, history, withStore };
}

async function kill(bot: BotProcess): Promise<void> {
  process.kill(bot.pid, 'SIGKILL');
  await bot.exited;
}

/** Runs `hook` once, at the first request it matches, and resolves when it ran. */
function once(matches: Parameters<RequestHook>[0] extends infer R ? (request: R) => boolean : never, action: () => Promise<void>): Promise<void> {
  return new Promise((done) => {
    x.setRequestHook(async (request) => {
      if (!matches(request)) return;
      x.setRequestHook(undefined);
      await action();
      done();
      return 'drop';
    });
  });
}

/** Pixels at 32x32: the same picture through different encoders and sizes compares close. */
async function thumbnail(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).resize(32, 32, { fit: 'cover' }).removeAlpha().raw().toBuffer();
}
async function looksLike(a: Buffer, b: Buffer): Promise<boolean> {
  const [left, right] = await Promise.all([thumbnail(a), thumbnail(b)]);
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference += Math.abs(left[i]! - right[i]!);
  return difference / left.length < 10;
}
const shownAtX = async (account: FakeXUser) => Buffer.from(await (await fetch(x.profileImageUrl(account.id).replace('_normal', ''))).arrayBuffer());

describe('kill -9 in the middle of /avatar set', () => {
  const states = [
    ['after the intent record', (account: FakeXUser) => (r: { path: string; userId?: string; stage: string }) => r.path === X_PATHS.verifyCredentials && r.userId === account.id],
    ['after the upload was sent', (account: FakeXUser) => (r: { path: string; userId?: string; stage: string }) => r.path === X_PATHS.updateProfileImage && r.userId === account.id && r.stage === 'received'],
    ['after X accepted the upload', (account: FakeXUser) => (r: { path: string; userId?: string; stage: string }) => r.path === X_PATHS.updateProfileImage && r.userId === account.id && r.stage === 'applied'],
    ['during the processing wait', undefined],
  ] as const;

  it.each(states)('%s: after a restart the change completes once, the original is the real one, and revert restores it', async (_state, killPoint) => {
    const bot = installation();
    const user = discord.addMember({ username: `crash${x.uploads.length}${Math.random().toString(36).slice(2, 6)}` });
    const account = x.addUser({ screenName: user.username.slice(0, 15) });
    await bot.link(user, account);
    const before = await shownAtX(account); // X's default avatar: the one the bot must save and restore
    const first = await bot.start();

    const photo = fixture('flowers.jpeg');
    const interaction = await discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('photo.jpg', photo) } });
    if (killPoint) await once(killPoint(account), () => kill(first));
    else {
      await first.waitForLine((line) => line.includes('"msg":"avatar change accepted by X"'), 15_000);
      await kill(first);
    }
    expect(await shownAtX(account).then((now) => looksLike(now, before))).toBe(true); // X still processing, or nothing sent

    await bot.start();
    // The reply is finished with the final URL by the restarted bot.
    const reply = await interaction.waitForReply((message) => message.embeds[0]?.title === 'Avatar updated', 30_000);
    const finalUrl = x.profileImageUrl(account.id).replace('_normal', '_400x400');
    expect(reply.embeds[0]?.description).toContain(finalUrl);

    const uploads = x.uploads.filter((upload) => upload.userId === account.id);
    expect(uploads).toHaveLength(1);
    const history = await bot.history(user.id);
    expect(history.entries).toHaveLength(1);
    expect(history.entries[0]?.url400).toBe(finalUrl);
    expect(history.original?.saved).toBe(true);

    const revert = await discord.slash(user, { name: 'avatar', subcommand: 'revert' });
    const reverted = await revert.waitForReply((message) => message.embeds[0]?.title === 'Original avatar restored', 30_000);
    expect(reverted.embeds[0]?.title).toBe('Original avatar restored');
    expect(x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(2);
    expect(await looksLike(await shownAtX(account), before)).toBe(true);
    expect(await looksLike(await shownAtX(account), photo)).toBe(false);
  }, 90_000);
});

describe('kill -9 in the middle of /banner set', () => {
  it.each([
    ['after X accepted the upload', true],
    ['during the processing wait', false],
  ] as const)('%s: after a restart the banner change completes once, its reply is finished, and revert removes the banner again', async (_state, atUpload) => {
    const bot = installation();
    const user = discord.addMember({ username: `bcrash${x.banners.length}${Math.random().toString(36).slice(2, 6)}` });
    const account = x.addUser({ screenName: user.username.slice(0, 15) });
    await bot.link(user, account);
    const first = await bot.start();

    const interaction = await discord.slash(user, { name: 'banner', subcommand: 'set', options: { image: image('wide.jpg', fixture('concert.jpg')) } });
    if (atUpload) await once((r) => r.path === X_PATHS.updateProfileBanner && r.userId === account.id && r.stage === 'applied', () => kill(first));
    else {
      await first.waitForLine((line) => line.includes('"msg":"banner change accepted by X"'), 15_000);
      await kill(first);
    }

    await bot.start();
    const reply = await interaction.waitForReply((message) => message.embeds[0]?.title === 'Banner updated', 30_000);
    const shown = x.profileBannerUrl(account.id);
    expect(shown).toBeDefined();
    expect(reply.embeds[0]?.description).toContain(shown);
    expect(reply.content).toContain('The bot restarted while X was processing this change');
    expect(x.banners.filter((upload) => upload.userId === account.id)).toHaveLength(1);
    const history = await bot.withStore(({ store }) => createAvatarHistory(store, 'banner').get(user.id));
    expect(history.entries.map((entry) => entry.url400)).toEqual([shown]);
    expect(history.original).toMatchObject({ saved: true, none: true });

    const revert = await discord.slash(user, { name: 'banner', subcommand: 'revert' });
    await revert.waitForReply((message) => message.embeds.length > 0, 30_000);
    expect(x.profileBannerUrl(account.id)).toBeUndefined();
  }, 90_000);
});

describe('kill -9 during a push', () => {
  const killPoints = [
    // The record says "sending": X applied the upload, the bot dies before X's answer.
    ['after X applied the first upload, before its answer', 'applied'],
    // The record says "accepted": the bot dies in X's processing wait, before the final URL is read.
    ['after X accepted an upload, in the processing wait before the read', 'accepted'],
  ] as const;

  it.each(killPoints)('a push to 4 members killed %s: each member gets the team image exactly once, and the report, log post and DMs carry each final URL', async (_when, killPoint) => {
    const bot = installation();
    const tag = killPoint.slice(0, 3);
    const admin = discord.addMember({ username: `crashadmin${tag}`, permissions: MANAGE_GUILD });
    const members: Array<{ user: TestUser; account: FakeXUser }> = [];
    for (let i = 0; i < 4; i++) {
      const user = discord.addMember({ username: `crashmember${tag}${i}` });
      const account = x.addUser({ screenName: `crashm${tag}${i}` });
      await bot.link(user, account);
      members.push({ user, account });
    }
    const first = await bot.start();
    const log = discord.addChannel({ name: `branding-log-${tag}` });
    await (await discord.slash(admin, { name: 'branding', subcommand: 'settings', options: { 'log-channel': { channel: log.id } } as never })).waitForReply(undefined, 15_000);
    for (const { user } of members) await (await discord.slash(user, { name: 'branding-consent', subcommand: 'join' })).waitForReply(undefined, 15_000);
    const team = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#ff6600' } }).jpeg().toBuffer();
    const push = await discord.slash(admin, { name: 'branding', subcommand: 'push', options: { image: { attachment: { filename: 'brand.jpg', bytes: team } }, label: 'Crash' } as never });
    const preview = await push.waitForReply((message) => message.content.includes('Push it?'), 15_000);
    const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(preview.components))![1]!;
    const killed =
      killPoint === 'applied'
        ? once((r) => r.path === X_PATHS.updateProfileImage && r.stage === 'applied', () => kill(first))
        : first.waitForLine((line) => line.includes('"msg":"avatar change accepted by X"'), 30_000).then(() => kill(first));
    await push.click(confirm);
    await killed;
    const uploadedBefore = members.filter(({ account }) => x.uploads.some((upload) => upload.userId === account.id)).length;
    expect(uploadedBefore).toBeGreaterThan(0); // the kill came after an upload, before its read
    const postsBefore = discord.messages.length;

    const second = await bot.start();
    const finished = async () =>
      bot.withStore(async ({ store }) => {
        const jobs = createJobStore(store);
        const { recent } = await jobs.guild(discord.guild.id);
        return recent[0] === undefined ? undefined : jobs.get(recent[0]);
      });
    const deadline = Date.now() + 60_000;
    let job = await finished();
    while (job?.state !== 'done' && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 250));
      job = await finished();
    }
    if (process.env.DEBUG_CRASH) console.log([...first.lines, '----', ...second.lines].filter((l) => !l.includes('x request')).join('\n'), JSON.stringify(x.uploads.map((u) => [u.userId, u.at])));
    expect(job?.state).toBe('done');
    const posted = await discord.waitForMessage((message) => message.channelId === log.id && discord.messages.indexOf(message) >= postsBefore, 30_000);
    expect(posted.message.content).toBe(`<@${admin.id}> Pushed "Crash": 4 succeeded, 0 failed, 0 skipped. The full report is attached.`);
    const reportText = posted.files[0]!.bytes.toString();
    expect(reportText).toContain('Succeeded (4):');
    for (const { user, account } of members) {
      const finalUrl = x.profileImageUrl(account.id).replace('_normal', '_400x400');
      expect(job?.results[user.id]?.status).toBe('done');
      expect(job?.results[user.id]?.url400).toBe(finalUrl);
      expect(reportText).toContain(`  ${user.id}  ${finalUrl}`);
      const dm = await discord.waitForDm(user.id, (message) => message.content.includes('changed your X avatar'), 15_000);
      expect(dm.message.content).toContain(`New 400x400: ${finalUrl}`);
      const uploads = x.uploads.filter((upload) => upload.userId === account.id);
      expect(uploads).toHaveLength(1);
      expect(await looksLike(uploads[0]!.bytes, team)).toBe(true);
      // The killed process may have held this member's history lock (a lease of 15 s): the change is then
      // reported done and recorded as soon as the lease expires.
      await eventually(async () => {
        const history = await bot.history(user.id);
        expect(history.entries).toHaveLength(1);
        expect(history.entries[0]?.url400).toBe(finalUrl);
      }, 30_000, 250);
    }
    // One report: a second completion of a member would have sent a second DM or log post.
    expect(discord.messages.filter((message) => message.channelId === log.id && discord.messages.indexOf(message) >= postsBefore)).toHaveLength(1);
    for (const { user } of members) expect(discord.messages.filter((message) => message.message.content.includes('changed your X avatar') && message.recipientId === user.id)).toHaveLength(1);
  }, 120_000);
});

describe('kill -9 during a scheduled change', () => {
  const killPoints = [
    ['after X applied the upload, before its answer', 'applied'],
    ['after X accepted the upload, in the processing wait before the read', 'accepted'],
  ] as const;

  it.each(killPoints)('killed %s: after a restart the DM is sent once with the final URL, the schedule records it, nothing is uploaded twice, and the next change happens', async (_when, killPoint) => {
    const bot = installation();
    const user = discord.addMember({ username: `crashsched${killPoint}` });
    const account = x.addUser({ screenName: `crashs${killPoint.slice(0, 3)}` });
    await bot.link(user, account);
    const colour = (background: string) => sharp({ create: { width: 400, height: 400, channels: 3, background } }).jpeg().toBuffer();
    const images = { a: await colour('#ff0000'), b: await colour('#00ff00'), c: await colour('#0000ff') };
    await bot.withStore(async ({ store }) => {
      const library = createAvatarLibrary(store);
      for (const [name, data] of Object.entries(images)) await library.add(user.id, name, { data, format: 'jpeg' });
    });
    const first = await bot.start();
    const killed =
      killPoint === 'applied'
        ? once((r) => r.path === X_PATHS.updateProfileImage && r.userId === account.id && r.stage === 'applied', () => kill(first))
        : first.waitForLine((line) => line.includes('"msg":"avatar change accepted by X"'), 30_000).then(() => kill(first));
    await discord.slash(user, { name: 'schedule', subcommand: 'default', options: { image: 'a' } as never });
    await killed;
    const uploadsOf = () => x.uploads.filter((upload) => upload.userId === account.id);
    expect(uploadsOf()).toHaveLength(1);
    const told = (name: string) => discord.messages.filter((posted) => posted.recipientId === user.id && posted.message.embeds[0]?.title === `Scheduled avatar: ${name}`);
    expect(told('a')).toHaveLength(0);

    await bot.start();
    const dm = await discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: a', 30_000);
    const finalUrl = x.profileImageUrl(account.id).replace('_normal', '_400x400');
    expect(dm.message.embeds[0]?.description).toContain(finalUrl);
    const record = await bot.withStore(({ store }) => createScheduleStore(store).get(user.id));
    expect(record.applied?.image).toBe('a');
    expect(record.lastRun).toMatchObject({ outcome: 'applied', detail: 'a' });
    expect(uploadsOf()).toHaveLength(1);
    expect(await looksLike(uploadsOf()[0]!.bytes, images.a)).toBe(true);
    const history = await bot.history(user.id);
    expect(history.entries.map((entry) => entry.url400)).toEqual([finalUrl]);

    // The scheduler still works after the restart: a rotation is caught up at once, then its timer fires.
    await discord.slash(user, { name: 'schedule', subcommand: 'rotate', options: { images: 'b,c', every: '*/2 * * * * *' } as never });
    await discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: c', 30_000);
    // Rotation images only after `a` (the catch-up shows b, or c when a 2 s tick passed first), `a` once.
    const [applied, ...rotated] = uploadsOf();
    expect(await looksLike(applied!.bytes, images.a)).toBe(true);
    expect(rotated.length).toBeGreaterThan(0);
    for (const upload of rotated) expect((await looksLike(upload.bytes, images.b)) || (await looksLike(upload.bytes, images.c))).toBe(true);
    expect(told('a')).toHaveLength(1);
  }, 120_000);
});

describe('kill -9 during a push revert', () => {
  it('a revert killed after X applied a member\'s restore: after a restart it finishes, each member is restored with one upload, and it is reported as a revert', async () => {
    const bot = installation();
    const admin = discord.addMember({ username: 'crashrevertadmin', permissions: MANAGE_GUILD });
    const members: Array<{ user: TestUser; account: FakeXUser; before: Buffer }> = [];
    for (let i = 0; i < 3; i++) {
      const user = discord.addMember({ username: `crashrevert${i}` });
      const account = x.addUser({ screenName: `crashrev${i}` });
      await bot.link(user, account);
      members.push({ user, account, before: await shownAtX(account) });
    }
    const first = await bot.start();
    const log = discord.addChannel({ name: 'branding-log-revert' });
    await (await discord.slash(admin, { name: 'branding', subcommand: 'settings', options: { 'log-channel': { channel: log.id } } as never })).waitForReply(undefined, 15_000);
    for (const { user } of members) await (await discord.slash(user, { name: 'branding-consent', subcommand: 'join' })).waitForReply(undefined, 15_000);
    const team = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#0066ff' } }).jpeg().toBuffer();
    const push = await discord.slash(admin, { name: 'branding', subcommand: 'push', options: { image: { attachment: { filename: 'brand.jpg', bytes: team } }, label: 'Undo' } as never });
    const preview = await push.waitForReply((message) => message.content.includes('Push it?'), 15_000);
    const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(preview.components))![1]!;
    const click = await push.click(confirm);
    await click.waitForReply((message) => message.content.startsWith('Pushed'), 30_000);
    for (const { account } of members) expect(x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(1);

    const killed = once((r) => r.path === X_PATHS.updateProfileImage && r.stage === 'applied', () => kill(first));
    await discord.slash(admin, { name: 'branding', subcommand: 'revert' });
    await killed;
    const postsBefore = discord.messages.length;

    const second = await bot.start();
    const job = await (async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const found = await bot.withStore(async ({ store }) => {
          const jobs = createJobStore(store);
          const { recent } = await jobs.guild(discord.guild.id);
          return recent[0] === undefined ? undefined : jobs.get(recent[0]);
        });
        if (found?.state === 'reverted' || Date.now() > deadline) return found;
        await new Promise((done) => setTimeout(done, 250));
      }
    })();
    if (process.env.DEBUG_CRASH) console.log([...first.lines, '----', ...second.lines].filter((l) => !l.includes('x request')).join('\n'));
    expect(job?.state).toBe('reverted');
    const posted = await discord.waitForMessage((message) => message.channelId === log.id && discord.messages.indexOf(message) >= postsBefore, 30_000);
    expect(posted.message.content).toBe(`<@${admin.id}> Reverted "Undo": 3 restored, 0 failed, 0 skipped (changed since).`);
    for (const { user, account, before } of members) {
      expect(job?.reverts?.[user.id]?.status).toBe('done');
      expect(job?.reverts?.[user.id]?.url400).toBe(x.profileImageUrl(account.id).replace('_normal', '_400x400'));
      expect(x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(2); // the push and its revert
      expect(await looksLike(await shownAtX(account), before)).toBe(true);
      expect((await bot.history(user.id)).entries).toHaveLength(0);
      // Told about the push once; the resumed revert does not announce a change of avatar again.
      expect(discord.messages.filter((message) => message.recipientId === user.id && message.message.content.includes('changed your X avatar'))).toHaveLength(1);
    }
    expect(discord.messages.filter((message) => message.channelId === log.id && discord.messages.indexOf(message) >= postsBefore)).toHaveLength(1);
  }, 120_000);
});
