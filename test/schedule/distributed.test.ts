/**
 * Several bot processes sharing one Redis or PostgreSQL store run each scheduled change exactly once:
 * node-cron's distributed mode with a run coordinator on that store (SET NX PX on Redis, a lease row on
 * PostgreSQL), and catch-up under a lease. The Redis suite runs when REDIS_URL is set, the PostgreSQL one
 * when DATABASE_URL is set (.ci/run sets both); the in-process coordinator's rules are tested always.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { registerCommands } from '../../src/bot/register.js';
import { localCoordination } from '../../src/coordination/runs.js';
import { openStore } from '../../src/store/backend.js';
import { createSecretBox } from '../../src/store/cipher.js';
import { createAvatarLibrary } from '../../src/library/store.js';
import { createScheduleStore } from '../../src/schedule/store.js';
import { createTokenVault } from '../../src/accounts/vault.js';
import { localBotEnv } from '../support/bot-harness.js';
import { startDiscordServer, type DiscordServer, type TestUser } from '../support/discord-server.js';
import { startXServer, type XServer } from '../support/x-server.js';
import { sharedStoreKinds } from '../support/private-servers.js';

describe('in-process coordination (SQLite: one process)', () => {
  it('grants a lease once until it expires, and delivers change notices', async () => {
    const coordination = localCoordination();
    expect(await coordination.coordinator.shouldRun('k', 50)).toBe(true);
    expect(await coordination.coordinator.shouldRun('k', 50)).toBe(false);
    expect(await coordination.coordinator.shouldRun('other', 50)).toBe(true);
    await new Promise((done) => setTimeout(done, 60));
    expect(await coordination.coordinator.shouldRun('k', 50)).toBe(true);
    const seen: string[] = [];
    coordination.subscribe((user) => seen.push(user));
    await coordination.publish('42');
    expect(seen).toEqual(['42']);
  });
});

const FIRE_EVERY_S = 6; // room for a slow upload to land inside its own slot on a loaded 2-core machine
const USERS = 20;

describe.each(sharedStoreKinds(7))('two bot processes on one %s', (_kind, emptyStore) => {
  let storeUrl: string;
  let disposeStore: (() => Promise<void>) | undefined;
  let discord: DiscordServer;
  let x: XServer;
  let dir: string;
  const bots: ChildProcess[] = [];
  /** Each bot's log lines (JSON), to tell which process answered an interaction. */
  const logs: string[][] = [];
  const accounts: string[] = [];
  const members: TestUser[] = [];

  const spawnBot = (key: string) => {
    const bot = spawn(process.execPath, [resolve('dist/src/cli.js'), 'start'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: process.env.PATH,
        ...localBotEnv(discord, x),
        STORE_URL: storeUrl,
        TOKEN_ENCRYPTION_KEY: key,
        TWITTER_PROCESSING_DELAY_MS: '0',
        SCHEDULE_MIN_INTERVAL_MS: '0',
        LOG_LEVEL: 'info',
      },
    });
    const lines: string[] = [];
    let partial = '';
    bot.stderr!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const complete = text.split('\n');
      partial = complete.pop()!;
      for (const line of complete) {
        lines.push(line);
        if (!/"level":(10|20|30),/.test(line)) process.stderr.write(`${line}\n`); // warnings and errors, as before
      }
    });
    bots.push(bot);
    logs.push(lines);
    return bot;
  };
  /** The index of the bot that ran this interaction's command. */
  const handledBy = (interactionId: string) => logs.findIndex((lines) => lines.some((line) => line.includes(`"interaction":"${interactionId}"`) && line.includes('"msg":"command"')));

  beforeAll(async () => {
    ({ url: storeUrl, dispose: disposeStore } = await emptyStore());
    discord = await startDiscordServer();
    x = await startXServer();
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-redis-'));
    const key = randomBytes(32);
    const store = await openStore(storeUrl);
    const vault = createTokenVault(store, createSecretBox(key));
    const library = createAvatarLibrary(store);
    const schedules = createScheduleStore(store);
    const images = await Promise.all(['#cc2222', '#22cc22'].map((colour) => sharp({ create: { width: 400, height: 400, channels: 3, background: colour } }).jpeg().toBuffer()));
    for (let i = 0; i < USERS; i++) {
      const member = discord.addMember({ username: `shared${i}` });
      const account = x.addUser({ screenName: `shared${i}` });
      accounts.push(account.id);
      members.push(member);
      await vault.save(member.id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      await library.add(member.id, 'red', { data: images[0]!, format: 'jpeg' });
      await library.add(member.id, 'green', { data: images[1]!, format: 'jpeg' });
      await schedules.update(member.id, (draft) => {
        draft.notify = { mode: 'off' };
        draft.schedules.push({ id: `rot${i}`, kind: 'rotation', images: ['red', 'green'], every: `*/${FIRE_EVERY_S} * * * * *`, order: 'sequence', createdAt: new Date().toISOString() });
      });
    }
    await store.close();
    await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
    // Start just after a fire: the catch-up then runs inside one slot. A catch-up that straddles a fire
    // decides one image before it and the next after it, two legitimate uploads that the first test would
    // count as a user caught up twice (seen on a loaded CI machine: one process uploaded red at 0.1 s, the
    // other green at 0.6 s of the next slot, for every user).
    await new Promise((done) => setTimeout(done, nextSlot(Date.now()) + 200 - Date.now()));
    spawnBot(key.toString('base64'));
    spawnBot(key.toString('base64'));
    await discord.waitForBot({ sessions: 2, timeoutMs: 30_000 });
  }, 60_000);

  afterAll(async () => {
    for (const bot of bots) if (bot.exitCode === null) bot.kill('SIGKILL');
    await Promise.all([discord?.close(), x?.close(), disposeStore?.()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Uploads whose arrival falls in the fire slot starting at `slotMs`. */
  const uploadsInSlot = (slotMs: number) => x.uploads.filter((upload) => upload.at >= slotMs && upload.at < slotMs + FIRE_EVERY_S * 1000);
  const nextSlot = (afterMs: number) => Math.ceil((afterMs + 1) / (FIRE_EVERY_S * 1000)) * FIRE_EVERY_S * 1000;

  async function watchSlot(): Promise<ReturnType<typeof uploadsInSlot>> {
    const slot = nextSlot(Date.now() + 500);
    await new Promise((done) => setTimeout(done, slot + FIRE_EVERY_S * 1000 - 300 - Date.now()));
    return uploadsInSlot(slot);
  }

  it('catches up once per user when both processes start', async () => {
    await discord.waitFor(() => new Set(x.uploads.map((upload) => upload.userId)).size === USERS, 20_000, 'one catch-up upload per user');
    // Until the first fire after start, each user got exactly one upload (the catch-up), not one per process.
    const firstFire = nextSlot(Math.min(...x.uploads.map((upload) => upload.at)) - 1);
    const beforeFire = x.uploads.filter((upload) => upload.at < firstFire);
    expect(beforeFire.length).toBeLessThanOrEqual(USERS);
    expect(new Set(beforeFire.map((upload) => upload.userId)).size).toBe(beforeFire.length);
  });

  it('20 schedules firing in the same second give exactly 20 uploads, none twice', async () => {
    const slot = await watchSlot();
    expect(slot.map((upload) => upload.userId).sort()).toEqual([...accounts].sort());
  });

  it('never uploads the image that is already applied', () => {
    for (const account of accounts) {
      const mine = x.uploads.filter((upload) => upload.userId === account);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.bytes.equals(mine[i - 1]!.bytes)).toBe(false);
    }
  });

  it('a pause in one process stops the timers of every process at once', async () => {
    const pause = await discord.slash(members[0]!, { name: 'schedule', subcommand: 'pause', options: { schedule: 'rot0' } });
    expect((await pause.waitForReply(undefined, 10_000)).content).toMatch(/^Paused `rot0`\./);
    const slot = await watchSlot();
    expect(slot.map((upload) => upload.userId).sort()).toEqual(accounts.slice(1).sort());
  });

  it('re-arms a schedule resumed in one process in the other, which fires every schedule once that one is killed', async () => {
    // The resumed timer exists in the survivor only if the edit's broadcast reached it: it never saw the command.
    const resume = await discord.slash(members[0]!, { name: 'schedule', subcommand: 'resume', options: { schedule: 'rot0' } });
    expect((await resume.waitForReply(undefined, 10_000)).content).toMatch(/^Resumed `rot0`\./);
    const editor = handledBy(resume.id);
    expect(editor).toBeGreaterThanOrEqual(0);
    bots[editor]!.kill('SIGKILL');
    await new Promise((done) => (bots[editor]!.exitCode === null && bots[editor]!.signalCode === null ? bots[editor]!.once('exit', done) : done(undefined)));
    const slot = await watchSlot();
    expect(slot.map((upload) => upload.userId).sort()).toEqual([...accounts].sort());
  });
});
