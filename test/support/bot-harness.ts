/**
 * The whole bot against local servers: the Discord-compatible server, the X-compatible server and the
 * real bot (discord.js client, services, HTTP server) configured only through its configuration
 * values, as production is. Used by the end-to-end tests, the load benchmark and `npm run demo`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { commands } from '../../commands/index.js';
import { createBot, type Bot } from '../../src/bot/bot.js';
import { createDiscordClient, discordEdge } from '../../src/bot/client.js';
import { registerCommands } from '../../src/bot/register.js';
import { parseConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createServices, type ServiceOptions, type Services } from '../../src/services.js';
import type { SchedulerClock } from '../../src/schedule/scheduler.js';
import { startDiscordServer, type DiscordServer, type DiscordServerOptions, type TestUser } from './discord-server.js';
import { startXServer, type FakeXUser, type XServer, type XServerOptions } from './x-server.js';
import { openRecords, type Records } from './records.js';

export interface HarnessOptions {
  /** Extra or overriding configuration variables. */
  env?: Record<string, string>;
  discord?: DiscordServerOptions;
  x?: XServerOptions;
  /** Serve the OAuth callback flow (sets PUBLIC_URL to the bot's own HTTP server). */
  callbackFlow?: boolean;
  /** Print logs to stderr instead of only capturing them. */
  printLogs?: boolean;
  /** The scheduler's clock (tests move time forward). */
  clock?: SchedulerClock;
  /** How often and at what time the sweeper of expired entries runs. */
  sweeper?: ServiceOptions['sweeper'];
  /** Resolve only once the bot's start-up catch-up and push resume are done (default true); false returns at READY. */
  waitForCatchUp?: boolean;
}

export interface Harness {
  discord: DiscordServer;
  x: XServer;
  bot: Bot;
  services: Services;
  /** The bot's records, opened beside it on the same store (records.ts): set-up and checks only. */
  records: Records;
  config: Config;
  /** Every JSON log line the bot wrote. */
  logs: string[];
  dataDir: string;
  /** Link a Discord user to a new X account, as /twitter link would (tokens stored in the vault). */
  linkUser(user: TestUser, screenName?: string): Promise<FakeXUser>;
  /** The bot's HTTP base URL. */
  httpUrl(): string;
  /** Stop the bot, then start a new one on the same store (a restart); `between` runs while it is down. */
  restart(between?: () => Promise<void> | void): Promise<void>;
  close(): Promise<void>;
}

/** The configuration that points a bot at the local Discord and X servers (HTTP on an ephemeral port). */
export function localBotEnv(discord: DiscordServer, x: XServer): Record<string, string> {
  return {
    DISCORD_TOKEN: discord.botToken,
    DISCORD_APPLICATION_ID: discord.applicationId,
    DISCORD_API_URL: discord.apiUrl,
    DISCORD_CLIENT_SECRET: discord.oauth2.clientSecret,
    TWITTER_CONSUMER_KEY: x.consumer.key,
    TWITTER_CONSUMER_SECRET: x.consumer.secret,
    TWITTER_API_URL: x.url,
    PORT: '0',
    // Changes at the instant their rule says: tests time boundaries (test/schedule/spread.test.ts sets its own).
    SCHEDULE_SPREAD_S: '0',
    ATTACHMENT_HOSTS: new URL(discord.url).host,
    X_IMAGE_HOSTS: new URL(x.url).host,
  };
}

/**
 * The configuration for services that talk to the local X server only (no Discord): tests and
 * benchmarks that exercise the use cases directly. A fresh encryption key and a SQLite file in `dir`.
 */
export function localServicesEnv(x: XServer, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TWITTER_CONSUMER_KEY: x.consumer.key,
    TWITTER_CONSUMER_SECRET: x.consumer.secret,
    TWITTER_API_URL: x.url,
    X_IMAGE_HOSTS: new URL(x.url).host,
    TWITTER_PROCESSING_DELAY_MS: '0',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STORE_URL: `sqlite://${join(dir, 'bot.sqlite')}`,
    LOG_LEVEL: 'silent',
    SCHEDULE_SPREAD_S: '0', // as localBotEnv
    ...extra,
  };
}

function capture(lines: string[], print: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      if (print) process.stderr.write(chunk);
      done();
    },
  });
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const discord = await startDiscordServer(options.discord);
  const x = await startXServer(options.x);
  const dataDir = mkdtempSync(join(tmpdir(), 'avatar-bot-e2e-'));
  const logs: string[] = [];
  const env: Record<string, string> = {
    ...localServicesEnv(x, dataDir),
    ...localBotEnv(discord, x),
    TWITTER_PROCESSING_DELAY_MS: '20',
    LOG_LEVEL: 'debug',
    ...options.env,
  };
  let config = parseConfig(env);
  const logger: Logger = createLogger({ level: config.logLevel, destination: capture(logs, options.printLogs ?? false) });

  if (options.callbackFlow) {
    // The callback URL must be known before the bot starts; reserve the port first.
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address() as { port: number };
        probe.close(() => resolve(address.port));
      });
    });
    config = parseConfig({ HTTP_HOST: '127.0.0.1', ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
    // As registered in the Developer Portal (OAuth2 > Redirects).
    discord.oauth2.addRedirectUri(`http://127.0.0.1:${port}/oauth/discord`);
  }

  const boot = async () => {
    const client = createDiscordClient(config);
    const services = await createServices(config, logger, {
      edge: discordEdge(client, config),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sweeper ? { sweeper: options.sweeper } : {}),
    });
    const bot = createBot({ client, services, commands, drainTimeoutMs: 10_000 });
    await bot.start();
    if (options.waitForCatchUp ?? true) await bot.background;
    return { services, bot };
  };
  await registerCommands({ apiUrl: config.discordApiUrl, token: config.discordToken!, applicationId: config.discordApplicationId!, commands });
  let running = await boot();
  const records = await openRecords(config);

  const harness: Harness = {
    discord,
    x,
    get bot() {
      return running.bot;
    },
    get services() {
      return running.services;
    },
    records,
    config,
    logs,
    dataDir,
    async linkUser(user, screenName = user.username) {
      const account = x.addUser({ screenName });
      await records.vault.save(user.id, { xUserId: account.id, screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      return account;
    },
    httpUrl: () => `http://127.0.0.1:${running.bot.http.port}`,
    async restart(between) {
      await running.bot.stop();
      await between?.();
      running = await boot();
    },
    async close() {
      await running.bot.stop();
      await records.close();
      await Promise.all([discord.close(), x.close()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}
