/**
 * Sharding (issue 13): `npm start` with SHARD_COUNT=2 runs discord.js's ShardingManager with one child
 * process per shard against the Discord-compatible server, which deals guilds to shards by
 * `(guild_id >> 22) % count` and sends each guild's interactions (and every DM's, to shard 0) on the
 * connection of the shard owning it, as Discord does. The children share one Redis (database 10), and
 * in a second run one private PostgreSQL.
 * Which process did something is read from its log lines (each carries its pid).
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Events } from 'discord.js';
import { commands } from '../../commands/index.js';
import { createDiscordClient, discordEdge } from '../../src/bot/client.js';
import { registerCommands } from '../../src/bot/register.js';
import { parseConfig, shardLayout } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices } from '../../src/services.js';
import { openRecords } from '../support/records.js';
import { isAlive, linesOf, startBotProcess, type BotProcess } from '../support/bot-process.js';
import { localBotEnv, localServicesEnv } from '../support/bot-harness.js';
import { startDiscordServer, type DiscordServer, type Interaction, type TestGuild, type TestUser } from '../support/discord-server.js';
import { startXServer, type XServer } from '../support/x-server.js';
import { sharedStoreKinds } from '../support/private-servers.js';

describe('SHARD_COUNT and SHARDS_PER_PROCESS', () => {
  it('parse auto, a count and a group size, and refuse anything else with one line naming the variable', () => {
    expect(parseConfig({})).toMatchObject({ shardCount: 1, shardsPerProcess: 1, shardProcess: undefined });
    expect(parseConfig({ SHARD_COUNT: 'auto', SHARDS_PER_PROCESS: '4' })).toMatchObject({ shardCount: 'auto', shardsPerProcess: 4 });
    expect(parseConfig({ SHARD_COUNT: '6' }).shardCount).toBe(6);
    for (const [name, value] of [['SHARD_COUNT', '0'], ['SHARD_COUNT', 'two'], ['SHARDS_PER_PROCESS', '0'], ['SHARDS_PER_PROCESS', '65']] as const) {
      expect(() => parseConfig({ [name]: value })).toThrow(new RegExp(`^${name} must be a whole number`));
    }
  });

  it('reads a manager child\'s share from what discord.js\'s Shard puts in its environment', () => {
    expect(parseConfig({ SHARDING_MANAGER: 'true', SHARDS: '[2,3]', SHARD_COUNT: '4', SHARDS_PER_PROCESS: '2' }).shardProcess).toEqual({ index: 1, shards: [2, 3], total: 4 });
    expect(parseConfig({ SHARDING_MANAGER: 'true', SHARDS: '1', SHARD_COUNT: '2' }).shardProcess).toEqual({ index: 1, shards: [1], total: 2 });
    expect(parseConfig({ SHARDS: '[0]', SHARD_COUNT: '2' }).shardProcess).toBeUndefined(); // not started by a manager
    expect(() => parseConfig({ SHARDING_MANAGER: 'true', SHARDS: '[2]', SHARD_COUNT: '2' })).toThrow(/^SHARDS must list at most 1 shard ids below 2/);
  });

  it('groups shards into processes, and refuses several processes on SQLite only', () => {
    const redis = parseConfig({ STORE_URL: 'redis://127.0.0.1:6379/10', SHARDS_PER_PROCESS: '2' });
    expect(shardLayout(redis, 5).processes).toEqual([[0, 1], [2, 3], [4]]);
    expect(shardLayout(parseConfig({ SHARDS_PER_PROCESS: '2' }), 2).processes).toEqual([[0, 1]]); // one process: SQLite is fine
    expect(() => shardLayout(parseConfig({}), 2)).toThrow(/^SHARD_COUNT is 2 with SHARDS_PER_PROCESS=1, which runs 2 processes, but STORE_URL is SQLite/);
    expect(() => shardLayout(parseConfig({ STORE_URL: 'sqlite://bot.sqlite' }), 2)).toThrow(/STORE_URL is SQLite: several processes run each schedule once only through Redis or PostgreSQL/);
    // PostgreSQL shares the leases and the change feed too (src/coordination/postgres.ts).
    expect(shardLayout(parseConfig({ STORE_URL: 'postgresql://bot:bot@127.0.0.1/bot' }), 3).processes).toEqual([[0], [1], [2]]);
    expect(() => shardLayout(parseConfig({ STORE_URL: 'redis://127.0.0.1:6379/10', PORT: '65535' }), 2)).toThrow(/^PORT is 65535: the last of 2 processes would listen on PORT \+ 1, over 65535/);
  });

  it.each(['2', 'auto'])('avatar-bot start with SHARD_COUNT=%s (2 recommended) on SQLite stops with one error line and exit 2', async (shardCount) => {
    const [discord, x] = await Promise.all([startDiscordServer({ shards: 2 }), startXServer()]);
    const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-shard-sqlite-'));
    try {
      // Not spawnSync: the Discord server in this process must answer GET /gateway/bot meanwhile.
      const child = spawn(process.execPath, [resolve('dist/src/cli.js'), 'start'], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 20_000,
        env: { PATH: process.env.PATH, ...localBotEnv(discord, x), TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'), STORE_URL: `sqlite://${join(dir, 'bot.sqlite')}`, SHARD_COUNT: shardCount, LOG_LEVEL: 'silent' },
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const [status] = (await once(child, 'exit')) as [number | null];
      const run = { status, stderr };
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^error: SHARD_COUNT is 2 with SHARDS_PER_PROCESS=1, which runs 2 processes, but STORE_URL is SQLite[^\n]*\n$/);
      expect(discord.sessions).toEqual([]); // refused before connecting to the gateway
      expect(discord.calls.map((call) => call.path)).toEqual(shardCount === 'auto' ? ['/api/v10/gateway/bot'] : []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await Promise.all([discord.close(), x.close()]);
    }
  });
});

describe('one process with two shards (SHARD_COUNT=auto, SHARDS_PER_PROCESS=2, SQLite)', () => {
  it('takes Discord\'s recommended count, identifies both shards and answers interactions from a guild of each', async () => {
    const [discord, x] = await Promise.all([startDiscordServer({ shards: 2, maxConcurrency: 2 }), startXServer()]);
    await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
    const guilds = [discord.addGuild({ shard: 0 }), discord.addGuild({ shard: 1 })];
    let bot: BotProcess | undefined;
    try {
      bot = await startBotProcess(discord, x, 'node', { SHARD_COUNT: 'auto', SHARDS_PER_PROCESS: '2' });
      await discord.waitForBot({ sessions: 2, timeoutMs: 20_000 });
      expect(discord.sessions.map((session) => session.shard).sort()).toEqual([[0, 2], [1, 2]]);
      for (const [shard, guild] of guilds.entries()) {
        const interaction = await statusIn(discord, discord.addMember({ guildId: guild.id }), guild);
        expect(sessionShard(discord, interaction)).toBe(shard);
        await interaction.waitForReply(undefined, 15_000);
      }
    } finally {
      bot?.cleanUp();
      await Promise.all([discord.close(), x.close()]);
    }
  }, 60_000);
});

describe('a process running shard 0 of 2', () => {
  it('asks Discord about a server of shard 1 (not in its cache): whether someone is a member, and where to post their notice', async () => {
    // View Channel, Send Messages, Embed Links, Attach Files: what a notice needs.
    const discord = await startDiscordServer({ shards: 2, botPermissions: 51200n });
    const theirs = discord.addGuild({ shard: 1 });
    const member = discord.addMember({ guildId: theirs.id });
    const stranger = discord.addUser();
    const client: Client = createDiscordClient({ discordApiUrl: discord.apiUrl }, { shards: [0], total: 2 });
    try {
      const ready = new Promise((done) => client.once(Events.ClientReady, done));
      await client.login(discord.botToken);
      await ready;
      expect(client.guilds.cache.has(theirs.id)).toBe(false);
      const edge = discordEdge(client);
      expect(edge.ownsGuild?.(theirs.id)).toBe(false);
      expect(edge.ownsGuild?.(discord.addGuild({ shard: 0 }).id)).toBe(true);
      expect(await edge.membership(theirs.id, member.id)).toBe('member');
      expect(await edge.membership(theirs.id, stranger.id)).toBe('left');

      // A scheduled change this process ran, for someone whose notices go to a channel of shard 1's server.
      const notice = { kind: 'changed', image: 'red', label: 'rotation', url400: 'https://pbs.twimg.com/profile_images/1/a_400x400.jpg', data: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#cc2222' } }).jpeg().toBuffer(), format: 'jpeg' } as const;
      expect(await edge.notify(member.id, { schedules: [], notify: { mode: 'channel', channelId: theirs.channelId } }, notice, 'en-US')).toBe(true);
      const posted = await discord.waitForMessage((message) => message.channelId === theirs.channelId);
      expect(posted.message.content).toBe(`<@${member.id}>`);
      expect(discord.messages.filter((message) => message.recipientId === member.id)).toEqual([]); // not rerouted to a DM
    } finally {
      await client.destroy();
      await discord.close();
    }
  });
});

const statusIn = (discord: DiscordServer, user: TestUser, guild: TestGuild | null) =>
  discord.slash(user, { name: 'twitter', subcommand: 'status' }, { guildId: guild ? guild.id : null });
const sessionShard = (discord: DiscordServer, interaction: Interaction) => discord.sessions.find((session) => session.sessionId === interaction.sessionId)?.shard[0];

/** Two consecutive free ports: the children listen on PORT and PORT + 1. */
async function freePortPair(): Promise<number> {
  const listen = (port: number) =>
    new Promise<number | undefined>((done) => {
      const probe = createServer();
      probe.once('error', () => done(undefined));
      probe.listen(port, '127.0.0.1', () => {
        const bound = (probe.address() as { port: number }).port;
        probe.close(() => done(bound));
      });
    });
  for (;;) {
    const port = await listen(0);
    if (port !== undefined && port < 65535 && (await listen(port + 1)) !== undefined) return port;
  }
}

const FIRE_EVERY_S = 4;
/** The old space's limit `npm start` runs node with (package.json). */
const HEAP_LIMIT_MB = Number(/--max-old-space-size=(\d+)/.exec((JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start)?.[1]);

describe.each(sharedStoreKinds(10))('two processes with two shards on one %s', (_kind, emptyStore) => {
  let storeUrl: string;
  let disposeStore: (() => Promise<void>) | undefined;
  let discord: DiscordServer;
  let x: XServer;
  let dir: string;
  let bot: BotProcess;
  let port: number;
  let guilds: TestGuild[];
  let scheduled: TestUser;
  let scheduledX: string;
  let pushJob: string;
  let logChannel: string;
  let key: string;
  /** The X accounts of the members the interrupted push reaches. */
  const pushAccounts: string[] = [];

  const child = (index: number) => bot.shardProcesses[index]!;
  /** Which children logged this interaction's command line (by pid). */
  const handledBy = (interaction: Interaction, pids = bot.shardProcesses.map((entry) => entry.pid)) =>
    pids.filter((pid) => linesOf(bot.lines, pid).some((line) => line.includes(`"interaction":"${interaction.id}"`) && line.includes('"msg":"command"')));
  const nextSlot = (afterMs: number) => Math.ceil((afterMs + 1) / (FIRE_EVERY_S * 1000)) * FIRE_EVERY_S * 1000;
  /** The uploads to the scheduled user's account in the next whole fire slot. */
  async function watchSlot(): Promise<{ uploads: number; from: number }> {
    const from = nextSlot(Date.now() + 300);
    await new Promise((done) => setTimeout(done, from + FIRE_EVERY_S * 1000 - 300 - Date.now()));
    return { uploads: x.uploads.filter((upload) => upload.userId === scheduledX && upload.at >= from && upload.at < from + FIRE_EVERY_S * 1000).length, from };
  }

  beforeAll(async () => {
    ({ url: storeUrl, dispose: disposeStore } = await emptyStore());
    discord = await startDiscordServer({ shards: 2, maxConcurrency: 2, timeoutMs: 15_000 });
    x = await startXServer();
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-shards-'));
    await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
    guilds = [discord.addGuild({ shard: 0, name: 'Shard Zero' }), discord.addGuild({ shard: 1, name: 'Shard One' })];
    logChannel = discord.addChannel({ guildId: guilds[1]!.id, name: 'branding-log' }).id;

    // The store as a stopped bot left it: one user with a rotation, and a push in shard 1's server interrupted.
    key = randomBytes(32).toString('base64');
    const config = parseConfig({ ...localServicesEnv(x, dir), STORE_URL: storeUrl, TOKEN_ENCRYPTION_KEY: key });
    const services = await createServices(config, createLogger({ level: 'silent' }), { recoverChanges: false });
    const records = await openRecords(config);
    const [red, green] = await Promise.all(['#cc2222', '#22cc22'].map((colour) => sharp({ create: { width: 400, height: 400, channels: 3, background: colour } }).jpeg().toBuffer()));
    const link = async (user: TestUser) => {
      const account = x.addUser({ screenName: user.username });
      await records.vault.save(user.id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      return account.id;
    };
    scheduled = discord.addMember({ guildId: guilds[0]!.id, username: 'rotating' });
    scheduledX = await link(scheduled);
    await services.library.add(scheduled.id, 'red', { data: red!, format: 'jpeg' });
    await services.library.add(scheduled.id, 'green', { data: green!, format: 'jpeg' });
    await records.schedules.update(scheduled.id, (draft) => {
      draft.notify = { mode: 'off' };
      draft.schedules.push({ id: 'rot', kind: 'rotation', images: ['red', 'green'], every: `*/${FIRE_EVERY_S} * * * * *`, order: 'sequence', createdAt: new Date().toISOString() });
    });
    const admin = discord.addMember({ guildId: guilds[1]!.id, username: 'admin-one', permissions: 0x20n });
    for (const name of ['member-one', 'member-two']) {
      const member = discord.addMember({ guildId: guilds[1]!.id, username: name });
      pushAccounts.push(await link(member));
      await services.branding.consent.join(guilds[1]!.id, member.id);
    }
    await services.branding.settings.setLogChannel(guilds[1]!.id, logChannel);
    pushJob = await services.branding.pushes.start({ guildId: guilds[1]!.id, adminId: admin.id, image: { data: red!, format: 'jpeg' }, label: 'Shard one launch' });
    await services.close();
    await records.close();

    port = await freePortPair();
    const spawnedAt = performance.now();
    bot = await startBotProcess(
      discord,
      x,
      'npm',
      { STORE_URL: storeUrl, TOKEN_ENCRYPTION_KEY: key, SHARD_COUNT: '2', PORT: String(port), SCHEDULE_MIN_INTERVAL_MS: '0' },
      2,
    );
    process.stderr.write(`two shard processes ready ${Math.round(performance.now() - spawnedAt)} ms after npm start\n`);
  }, 90_000);

  afterAll(async () => {
    bot?.cleanUp();
    await Promise.all([discord?.close(), x?.close(), disposeStore?.()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs one child per shard, each identifying its own shard, with its HTTP server on PORT + index', async () => {
    expect(bot.shardProcesses.map(({ index, shards, port: childPort }) => ({ index, shards, port: childPort }))).toEqual([
      { index: 0, shards: [0], port },
      { index: 1, shards: [1], port: port + 1 },
    ]);
    expect(new Set([bot.pid, child(0).pid, child(1).pid]).size).toBe(3);
    expect(discord.sessions.filter((session) => session.connected).map((session) => session.shard).sort()).toEqual([[0, 2], [1, 2]]);
    for (const childPort of [port, port + 1]) expect((await fetch(`http://127.0.0.1:${childPort}/healthz`)).status).toBe(200);
  });

  it('runs every child with the heap limit npm start gives node (V8 then grows its heap to at most 1.4 times the live data, not 4)', () => {
    for (const index of [0, 1]) {
      const ready = linesOf(bot.lines, child(index).pid).find((line) => line.includes('"msg":"bot ready"'));
      const limit = (JSON.parse(ready!) as { heap_limit_mb: number }).heap_limit_mb;
      expect(limit).toBeGreaterThanOrEqual(HEAP_LIMIT_MB);
      expect(limit).toBeLessThan(HEAP_LIMIT_MB + 100); // the old space's limit and the young generation's
    }
  });

  it('answers an interaction from a guild of each shard in that shard\'s process, once', async () => {
    for (const [shard, guild] of guilds.entries()) {
      const interaction = await statusIn(discord, discord.addMember({ guildId: guild.id }), guild);
      await interaction.waitForReply(undefined, 15_000);
      expect(sessionShard(discord, interaction)).toBe(shard);
      expect(handledBy(interaction)).toEqual([child(shard).pid]);
      expect(interaction.callbacks).toHaveLength(1);
    }
  });

  it('answers a DM interaction once, in shard 0\'s process', async () => {
    const interaction = await statusIn(discord, discord.addUser({ username: 'dm-only' }), null);
    await interaction.waitForReply(undefined, 15_000);
    expect(sessionShard(discord, interaction)).toBe(0);
    expect(handledBy(interaction)).toEqual([child(0).pid]);
    expect(interaction.callbacks).toHaveLength(1);
  });

  it('carries on the interrupted push of a shard 1 server in shard 1\'s process, posting to its log channel', async () => {
    const report = await discord.waitForMessage((posted) => posted.channelId === logChannel, 30_000);
    expect(report.message.content).toContain('Shard one launch');
    const running = (pid: number) => linesOf(bot.lines, pid).filter((line) => line.includes('"msg":"branding job running"') && line.includes(pushJob));
    expect(running(child(1).pid)).toHaveLength(1);
    expect(running(child(0).pid)).toEqual([]);
    for (const account of pushAccounts) expect(x.uploads.filter((upload) => upload.userId === account)).toHaveLength(1);
  });

  it('fires a schedule change once across both processes', async () => {
    const slot = await watchSlot();
    expect(slot.uploads).toBe(1);
  });

  it('keeps serving shard 0\'s guilds, DMs and every schedule when shard 1\'s process is killed, and starts it again', async () => {
    const killed = child(1).pid;
    const linesBefore = bot.lines.length;
    process.kill(killed, 'SIGKILL');
    await bot.waitForLine((line) => line.includes('"msg":"shard process died') && line.includes('"process":1'), 10_000);
    expect(isAlive(killed)).toBe(false);

    const slot = await watchSlot();
    expect(slot.uploads).toBe(1);
    // Shard 1's process comes back 5 s after its death at the earliest: the slot's fire (under 4.5 s after it) was the survivor's.
    const applied = bot.lines
      .slice(linesBefore)
      .filter((line) => line.includes('"msg":"scheduled change applied"'))
      .filter((line) => {
        const time = Date.parse((JSON.parse(line) as { time: string }).time);
        return time >= slot.from; // until the slot's end (watchSlot returns just before it)
      });
    expect(applied).toHaveLength(1);
    expect(applied.every((line) => line.includes(`"pid":${child(0).pid},`))).toBe(true);

    const inGuild = await statusIn(discord, discord.addMember({ guildId: guilds[0]!.id }), guilds[0]!);
    await inGuild.waitForReply(undefined, 15_000);
    expect(handledBy(inGuild)).toEqual([child(0).pid]);
    const inDm = await statusIn(discord, discord.addUser(), null);
    await inDm.waitForReply(undefined, 15_000);
    expect(handledBy(inDm)).toEqual([child(0).pid]);

    // The manager starts the dead child again; it takes shard 1's guilds back.
    const again = JSON.parse(await bot.waitForLine((line) => line.includes('"msg":"shards ready"') && line.includes('"index":1') && !line.includes(`"pid":${killed},`), 30_000)) as { pid: number };
    const back = await statusIn(discord, discord.addMember({ guildId: guilds[1]!.id }), guilds[1]!);
    await back.waitForReply(undefined, 15_000);
    expect(handledBy(back, [child(0).pid, killed, again.pid])).toEqual([again.pid]);
  }, 60_000);

  it('stops every child and exits 0 on SIGTERM to the manager', async () => {
    const children = [child(0).pid, ...bot.lines.filter((line) => line.includes('"msg":"shards ready"')).map((line) => (JSON.parse(line) as { pid: number }).pid)];
    process.kill(bot.pid, 'SIGTERM');
    expect(await bot.exited).toEqual({ code: 0, signal: null });
    for (const pid of children) expect(isAlive(pid)).toBe(false);
    expect(bot.lines.filter((line) => line.includes('"msg":"bot stopped"')).length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('leaves no child behind when the manager is killed with SIGKILL', async () => {
    const again = await startBotProcess(discord, x, 'node', { STORE_URL: storeUrl, TOKEN_ENCRYPTION_KEY: key, SHARD_COUNT: '2', SCHEDULE_MIN_INTERVAL_MS: '0' }, 2);
    try {
      process.kill(again.pid, 'SIGKILL'); // the manager only: its children are left to notice
      await discord.waitFor(() => again.shardProcesses.every(({ pid }) => !isAlive(pid)), 40_000, 'both children to stop');
      for (const { pid } of again.shardProcesses) expect(linesOf(again.lines, pid).some((line) => line.includes('"signal":"manager gone"'))).toBe(true);
    } finally {
      again.cleanUp();
    }
  }, 90_000);
});
