/**
 * The one place that reads the environment. Everything is parsed and validated here, once;
 * a missing or malformed variable becomes a ConfigError whose message is one line that names it
 * and says how to fix it.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { UserFacingError } from './errors.js';

export const CONFIG_ERROR_KINDS = ['missing', 'invalid'] as const;

/** Said to the operator only (terminal, log): `problem` and `fix` are this file's English, as .env.example is. */
export class ConfigError extends UserFacingError<(typeof CONFIG_ERROR_KINDS)[number]> {
  readonly variable: string;

  constructor(kind: (typeof CONFIG_ERROR_KINDS)[number], variable: string, params: { problem: string; fix: string }) {
    super(kind, kind === 'missing' ? { name: variable, fix: params.fix } : { name: variable, ...params });
    this.variable = variable;
  }
}

/** SCHEDULE_SPREAD_S's bound: a scheduled change is at most an hour after its rule's instant. */
export const MAX_SPREAD_S = 3600;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  discordToken: string | undefined;
  discordApplicationId: string | undefined;
  discordApiUrl: string;
  /** The application's OAuth2 client secret: the callback flow signs the browser in with Discord. */
  discordClientSecret: string | undefined;
  twitterConsumerKey: string | undefined;
  twitterConsumerSecret: string | undefined;
  twitterApiUrl: string;
  twitterAccessToken: string | undefined;
  twitterAccessTokenSecret: string | undefined;
  twitterProcessingDelayMs: number;
  /** X_PROFILE_API: which API sets the avatar, name and bio (v1.1, v2, or auto: v1.1 until X says it is gone). */
  xProfileApi: 'v1.1' | 'v2' | 'auto';
  /** X_DAILY_WRITE_BUDGET: profile writes the app may make per rolling 24 h (all processes together); undefined: no cap. */
  xDailyWriteBudget: number | undefined;
  /** OPERATOR_LOG_CHANNEL: a Discord channel id; the X breaker's openings and closings are posted there. */
  operatorLogChannel: string | undefined;
  tokenEncryptionKey: Buffer | undefined;
  tokenEncryptionKeyPrevious: Buffer | undefined;
  storeUrl: string;
  logLevel: LogLevel;
  imageConcurrency: number;
  publicUrl: string | undefined;
  port: number;
  /** The address the HTTP server binds to. */
  httpHost: string;
  attachmentHosts: string[];
  xImageHosts: string[];
  scheduleMinIntervalMs: number;
  /** SCHEDULE_SPREAD_S: scheduled changes due at the same instant are spread over this many seconds (0: not spread). */
  scheduleSpreadS: number;
  brandingConcurrency: number;
  /** SHARD_COUNT: how many gateway shards in all, or 'auto' (Discord's recommendation, GET /gateway/bot). */
  shardCount: number | 'auto';
  /** SHARDS_PER_PROCESS: more shards than this start a shard manager with one child process per group. */
  shardsPerProcess: number;
  /** Set in a child process of the shard manager (discord.js's ShardingManager sets SHARDING_MANAGER,
   *  SHARDS and SHARD_COUNT): the shards it runs, of how many, and its index (its HTTP port is PORT + index). */
  shardProcess: ShardProcess | undefined;
  /** METRICS: on (default) serves GET /metrics in Prometheus text format; off records nothing and answers 404. */
  metrics: boolean;
}

export interface ShardProcess {
  index: number;
  shards: number[];
  total: number;
}

/** How to obtain each variable, used in the one-line error messages. */
const HOW_TO_FIX: Record<string, string> = {
  DISCORD_TOKEN: 'copy the bot token from the Discord Developer Portal (your application > Bot > Reset Token)',
  DISCORD_APPLICATION_ID: 'copy the Application ID from the Discord Developer Portal (your application > General Information)',
  DISCORD_API_URL: 'use an http(s) URL such as https://discord.com/api, or remove it for the default',
  DISCORD_CLIENT_SECRET: 'copy the Client Secret from the Discord Developer Portal (your application > OAuth2), or remove it to link with a PIN only',
  TWITTER_CONSUMER_KEY: 'copy the API Key from your X app (developer.x.com > your app > Keys and tokens)',
  TWITTER_CONSUMER_SECRET: 'copy the API Key Secret from your X app (developer.x.com > your app > Keys and tokens)',
  TWITTER_API_URL: 'use an http(s) URL such as https://api.x.com, or remove it for the default',
  TWITTER_ACCESS_TOKEN: 'run `avatar-bot link` and copy the printed TWITTER_ACCESS_TOKEN, or use --discord-user',
  TWITTER_ACCESS_TOKEN_SECRET: 'run `avatar-bot link` and copy the printed TWITTER_ACCESS_TOKEN_SECRET, or use --discord-user',
  TWITTER_PROCESSING_DELAY_MS: 'use a whole number of milliseconds, for example 5000',
  X_PROFILE_API: 'use v1.1, v2 or auto (the default: v1.1 until X answers that it is gone for this app, then v2)',
  X_DAILY_WRITE_BUDGET: 'use a whole number of profile writes per 24 hours, for example 2000, or remove it for no cap',
  TOKEN_ENCRYPTION_KEY: 'run `avatar-bot gen-key` and put the printed value in .env',
  TOKEN_ENCRYPTION_KEY_PREVIOUS: 'set it to the key you used before rotating (32 bytes, base64), or remove it',
  STORE_URL: 'use sqlite://path/to/file.sqlite, redis://host:port or postgresql://user:pass@host/db',
  LOG_LEVEL: 'use one of fatal, error, warn, info, debug, trace, silent',
  IMAGE_CONCURRENCY: 'use a whole number from 1 to 64',
  PUBLIC_URL: 'use the https URL where this bot can be reached, or remove it to use the PIN flow only',
  PORT: 'use a port number from 0 to 65535',
  HTTP_HOST: 'use an IP address such as 127.0.0.1 or 0.0.0.0, or a host name',
  ATTACHMENT_HOSTS: 'use a comma-separated list of host or host:port entries',
  X_IMAGE_HOSTS: 'use a comma-separated list of host or host:port entries',
  BRANDING_CONCURRENCY: 'use a whole number from 1 to 32',
  SCHEDULE_MIN_INTERVAL_MS: 'use a whole number of milliseconds, for example 900000 (15 minutes)',
  SCHEDULE_SPREAD_S: `use a whole number of seconds from 0 (no spread) to ${MAX_SPREAD_S}, for example 60`,
  SHARD_COUNT: 'use auto or a whole number from 1 to 10000; more than one process needs STORE_URL=redis://… (or raise SHARDS_PER_PROCESS)',
  SHARDS_PER_PROCESS: 'use a whole number from 1 to 64',
  METRICS: 'use on or off',
  SHARDS: 'do not set it: the shard manager of `npm start` sets it for its child processes',
};

function fail(kind: 'missing' | 'invalid', name: string, problem: string): never {
  throw new ConfigError(kind, name, { problem, fix: HOW_TO_FIX[name] ?? 'see .env.example' });
}

type Env = Record<string, string | undefined>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function url(env: Env, name: string, fallback: string | undefined): string | undefined {
  const value = optional(env, name) ?? fallback;
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    fail('invalid', name, 'is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail('invalid', name, 'must be an http(s) URL');
  return value.replace(/\/+$/, '');
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = optional(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail('invalid', name, `must be a whole number from ${min} to ${max}`);
  return Number(value);
}

function key(env: Env, name: string): Buffer | undefined {
  const value = optional(env, name);
  if (value === undefined) return undefined;
  const bytes = Buffer.from(value, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || bytes.length !== 32) fail('invalid', name, 'must be 32 bytes encoded as base64');
  return bytes;
}

function hostList(env: Env, name: string, fallback: string): string[] {
  const hosts = (optional(env, name) ?? fallback).split(',').map((host) => host.trim().toLowerCase()).filter(Boolean);
  for (const host of hosts) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(host) && !/^\[[0-9a-f:]+\](:\d{1,5})?$/.test(host)) fail('invalid', name, `has an invalid entry "${host}"`);
  }
  return hosts;
}

function storeUrl(env: Env): string {
  const value = optional(env, 'STORE_URL') ?? 'sqlite://data/avatar-bot.sqlite';
  if (!/^(sqlite|redis|rediss|postgres|postgresql):\/\/.+/.test(value)) fail('invalid', 'STORE_URL', 'has an unsupported scheme');
  return value;
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const value = optional(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value !== 'on' && value !== 'off') fail('invalid', name, `is "${value}"`);
  return value === 'on';
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const PROFILE_APIS = ['v1.1', 'v2', 'auto'] as const;

function profileApi(env: Env): Config['xProfileApi'] {
  const value = (optional(env, 'X_PROFILE_API') ?? 'auto').toLowerCase();
  if (!(PROFILE_APIS as readonly string[]).includes(value)) fail('invalid', 'X_PROFILE_API', `is "${value}"`);
  return value as Config['xProfileApi'];
}

function logLevel(env: Env): LogLevel {
  const value = (optional(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(value)) fail('invalid', 'LOG_LEVEL', `is "${value}"`);
  return value as LogLevel;
}

/** Parse the environment. Variables that are present must be well-formed; required ones are checked by `need`. */
export function parseConfig(env: Env): Config {
  return {
    discordToken: optional(env, 'DISCORD_TOKEN'),
    discordApplicationId: snowflake(env, 'DISCORD_APPLICATION_ID'),
    discordApiUrl: url(env, 'DISCORD_API_URL', 'https://discord.com/api')!,
    discordClientSecret: optional(env, 'DISCORD_CLIENT_SECRET'),
    twitterConsumerKey: optional(env, 'TWITTER_CONSUMER_KEY'),
    twitterConsumerSecret: optional(env, 'TWITTER_CONSUMER_SECRET'),
    twitterApiUrl: url(env, 'TWITTER_API_URL', 'https://api.x.com')!,
    twitterAccessToken: optional(env, 'TWITTER_ACCESS_TOKEN'),
    twitterAccessTokenSecret: optional(env, 'TWITTER_ACCESS_TOKEN_SECRET'),
    twitterProcessingDelayMs: integer(env, 'TWITTER_PROCESSING_DELAY_MS', 5000, 0, 600_000),
    xProfileApi: profileApi(env),
    xDailyWriteBudget: optional(env, 'X_DAILY_WRITE_BUDGET') === undefined ? undefined : integer(env, 'X_DAILY_WRITE_BUDGET', 0, 1, 10_000_000),
    operatorLogChannel: snowflake(env, 'OPERATOR_LOG_CHANNEL'),
    tokenEncryptionKey: key(env, 'TOKEN_ENCRYPTION_KEY'),
    tokenEncryptionKeyPrevious: key(env, 'TOKEN_ENCRYPTION_KEY_PREVIOUS'),
    storeUrl: storeUrl(env),
    logLevel: logLevel(env),
    imageConcurrency: integer(env, 'IMAGE_CONCURRENCY', 2, 1, 64),
    publicUrl: url(env, 'PUBLIC_URL', undefined),
    port: integer(env, 'PORT', 3000, 0, 65535),
    httpHost: httpHost(env),
    attachmentHosts: hostList(env, 'ATTACHMENT_HOSTS', 'cdn.discordapp.com,media.discordapp.net'),
    xImageHosts: hostList(env, 'X_IMAGE_HOSTS', 'pbs.twimg.com'),
    scheduleMinIntervalMs: integer(env, 'SCHEDULE_MIN_INTERVAL_MS', 15 * 60_000, 0, 7 * 24 * 3_600_000),
    scheduleSpreadS: integer(env, 'SCHEDULE_SPREAD_S', 60, 0, MAX_SPREAD_S),
    brandingConcurrency: integer(env, 'BRANDING_CONCURRENCY', 4, 1, 32),
    shardCount: shardCount(env),
    shardsPerProcess: integer(env, 'SHARDS_PER_PROCESS', 1, 1, MAX_SHARDS_PER_PROCESS),
    shardProcess: shardProcess(env),
    metrics: onOff(env, 'METRICS', true),
  };
}

const MAX_SHARDS = 10_000;
const MAX_SHARDS_PER_PROCESS = 64;

function shardCount(env: Env): number | 'auto' {
  if (optional(env, 'SHARD_COUNT')?.toLowerCase() === 'auto') return 'auto';
  return integer(env, 'SHARD_COUNT', 1, 1, MAX_SHARDS);
}

/** discord.js's Shard gives its child SHARDING_MANAGER=true, SHARDS (here a JSON list) and SHARD_COUNT (a number). */
function shardProcess(env: Env): ShardProcess | undefined {
  if (optional(env, 'SHARDING_MANAGER') !== 'true') return undefined;
  const total = integer(env, 'SHARD_COUNT', 1, 1, MAX_SHARDS);
  const perProcess = integer(env, 'SHARDS_PER_PROCESS', 1, 1, MAX_SHARDS_PER_PROCESS);
  const raw = optional(env, 'SHARDS') ?? '';
  let shards: unknown;
  try {
    shards = raw.length <= 1_000 ? JSON.parse(raw) : undefined; // 64 ids of up to 4 digits take under 400
  } catch {
    shards = undefined;
  }
  if (typeof shards === 'number') shards = [shards];
  if (!Array.isArray(shards) || shards.length === 0 || shards.length > perProcess || !shards.every((id) => Number.isInteger(id) && id >= 0 && id < total)) {
    fail('invalid', 'SHARDS', `must list at most ${perProcess} shard ids below ${total}`);
  }
  const ids = shards as number[];
  return { index: Math.floor(ids[0]! / perProcess), shards: ids, total };
}

/**
 * How `npm start` runs `total` shards: one process (the default, and whenever SHARDS_PER_PROCESS covers
 * them all) or a shard manager with one child per group of SHARDS_PER_PROCESS. Several processes share
 * per-user work (schedules, catch-up, DMs) through the leases and the change feed on Redis or PostgreSQL;
 * SQLite keeps those in one process's memory, so each process would run every schedule: refused.
 */
export function shardLayout(config: Config, total: number): { total: number; processes: number[][] } {
  const processes: number[][] = [];
  for (let first = 0; first < total; first += config.shardsPerProcess) {
    processes.push(Array.from({ length: Math.min(config.shardsPerProcess, total - first) }, (_, i) => first + i));
  }
  if (processes.length > 1 && config.storeUrl.startsWith('sqlite:')) {
    fail('invalid', 'SHARD_COUNT', `is ${total} with SHARDS_PER_PROCESS=${config.shardsPerProcess}, which runs ${processes.length} processes, but STORE_URL is SQLite: several processes run each schedule once only through Redis or PostgreSQL`);
  }
  if (config.port !== 0 && config.port + processes.length - 1 > 65535) fail('invalid', 'PORT', `is ${config.port}: the last of ${processes.length} processes would listen on PORT + ${processes.length - 1}, over 65535`);
  return { total, processes };
}

/**
 * Loopback unless the bot has a public URL: without one nothing outside this machine needs /healthz or
 * the callback. With PUBLIC_URL a reverse proxy (often another container or host) must reach it, so
 * every IPv4 interface; set HTTP_HOST=127.0.0.1 when the proxy runs on the same host.
 */
function httpHost(env: Env): string {
  const value = optional(env, 'HTTP_HOST');
  if (value === undefined) return optional(env, 'PUBLIC_URL') === undefined ? '127.0.0.1' : '0.0.0.0';
  if (isIP(value) === 0 && !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(value)) fail('invalid', 'HTTP_HOST', `is "${value}"`);
  return value;
}

function snowflake(env: Env, name: string): string | undefined {
  const value = optional(env, name);
  if (value !== undefined && !/^\d{15,21}$/.test(value)) fail('invalid', name, 'is not a Discord id (a 15 to 21 digit number)');
  return value;
}

/** Read `.env` (when present) into the environment, then parse it. */
export function loadConfig(options: { envFile?: string; env?: Env } = {}): Config {
  const envFile = options.envFile ?? '.env';
  if (!options.env && existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(options.env ?? process.env);
}

const VARIABLE_OF = {
  discordToken: 'DISCORD_TOKEN',
  discordApplicationId: 'DISCORD_APPLICATION_ID',
  twitterConsumerKey: 'TWITTER_CONSUMER_KEY',
  twitterConsumerSecret: 'TWITTER_CONSUMER_SECRET',
  twitterAccessToken: 'TWITTER_ACCESS_TOKEN',
  twitterAccessTokenSecret: 'TWITTER_ACCESS_TOKEN_SECRET',
  tokenEncryptionKey: 'TOKEN_ENCRYPTION_KEY',
} as const satisfies Partial<Record<keyof Config, string>>;

export type RequirableSetting = keyof typeof VARIABLE_OF;

/** The values a command cannot run without; throws a ConfigError naming the first one missing. */
export function need<K extends RequirableSetting>(config: Config, ...names: K[]): { [P in K]: NonNullable<Config[P]> } {
  const result = {} as { [P in K]: NonNullable<Config[P]> };
  for (const name of names) {
    const value = config[name];
    if (value === undefined) fail('missing', VARIABLE_OF[name], 'is not set');
    result[name] = value as NonNullable<Config[K]>;
  }
  return result;
}

/** Every required variable that is missing, for the start-up message of `npm start`. */
export function missingVariables(config: Config, names: RequirableSetting[]): string[] {
  return names.filter((name) => config[name] === undefined).map((name) => `${VARIABLE_OF[name]}: ${HOW_TO_FIX[VARIABLE_OF[name]]}`);
}

/**
 * Whether links may complete through the browser (PUBLIC_URL/oauth/callback). That browser must sign in
 * with Discord to prove who it is, which needs the application's client secret; without either one
 * linking is PIN only.
 */
export function callbackFlowEnabled(config: Config): boolean {
  return config.publicUrl !== undefined && config.discordClientSecret !== undefined && config.discordApplicationId !== undefined;
}
