/**
 * `npm run bench -- scale` (issue 13): 100,000 linked users with 100,000 schedules, per store (Redis,
 * PostgreSQL, and SQLite for reference), served by the bot as `npm start` runs it with SHARD_COUNT=2.
 * Targets: ready_ms < 5000, RSS < 400 MB per process, late_p99_ms < 1000.
 *
 * Per store: the store is private (a redis-server or a PostgreSQL cluster of our own on a free port in a
 * temp dir; SQLite a file in one), seeded with every user's link sealed by the token vault and a schedule
 * record from the schedules benchmark's mix (seasons, rotations, events; written as already applied, so the
 * restore uploads nothing), and SCALE_DUE users whose rotation changes during the run, SCALE_LEAD_MS after
 * seeding ends, spread over SCALE_DUE_SPREAD_S seconds (they have a library and a history, as in the
 * schedules benchmark; the others' libraries are not seeded: nothing in the run reads them).
 * The bot runs as its own processes (`npm start`, with the node flags it starts node with): on Redis and PostgreSQL the shard manager with
 * two children, one shard each; SQLite refuses several processes (each would run every schedule: only Redis
 * and PostgreSQL coordinate them), so there one process holds both shards (SHARDS_PER_PROCESS=2), as the
 * table and the JSON say. The Discord- and X-compatible servers run in this process, not pinned (three
 * processes on two cores); X answers uploads in 200 ms, reads in 50 ms, and the bot waits X's 5000 ms
 * processing.
 *
 * Measured: `ready_ms` spawn to the last "bot ready" line (its log time); `rss_mb_per_process` the peak
 * VmRSS of each bot process (/proc, sampled every 250 ms, and VmHWM); `restore_s` the largest
 * `catchup_done_ms` / 1000 (each process counts from its own start); `late_p99_ms` the p99 of the
 * scheduler's fire-lateness histogram on /metrics, summed over the processes, interpolated within its
 * bucket as Prometheus' histogram_quantile does (its bucket's upper bound is printed too);
 * `interactions_per_s` `/twitter status` from SCALE_ASKERS linked members of a guild of each shard, a
 * closed loop of 4, 8, 16, … requests in flight for SCALE_STEP_S each, answers counted at the Discord
 * server, until the answered rate grows by less than 5 % (the best step's rate), once the changes' DM
 * notices are delivered; `status_p50_ms_while_notices` / `_p99_` the same command, 4 in flight, while they drain.
 *
 * Knobs: SCALE_USERS (100,000), SCALE_STORES (redis,postgres,sqlite), SCALE_DUE (1000), SCALE_DUE_SPREAD_S
 * (10), SCALE_LEAD_MS (60,000), SCALE_ASKERS (1000), SCALE_STEP_S (8), SCALE_SEED_LANES (16).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { commands } from '../commands/index.js';
import { registerCommands } from '../src/bot/register.js';
import { openStore } from '../src/store/backend.js';
import { createSecretBox } from '../src/store/cipher.js';
import { createTokenVault } from '../src/accounts/vault.js';
import { createAvatarHistory } from '../src/avatar/history.js';
import { createAvatarLibrary } from '../src/library/store.js';
import type { ScheduleRecord } from '../src/schedule/store.js';
import { activeImageAt, nextChangeAt } from '../src/schedule/engine.js';
import { seededRandom } from '../test/support/seeded-random.js';
import { startBotProcess, type BotProcess } from '../test/support/bot-process.js';
import { startDiscordServer, type DiscordServer, type Interaction, type TestGuild, type TestUser } from '../test/support/discord-server.js';
import { startXServer } from '../test/support/x-server.js';
import { startPrivatePostgres, startPrivateRedis, type PrivateServer } from '../test/support/private-servers.js';
import { appliedOrdinaryRecord, dueRecord, fastWrites, seedLinkedUser } from './schedules.js';
import { percentile, printFigures, printTable, round } from './report.js';

const USERS = Number(process.env.SCALE_USERS ?? 100_000);
const STORES = (process.env.SCALE_STORES ?? 'redis,postgres,sqlite').split(',') as StoreName[];
const DUE = Number(process.env.SCALE_DUE ?? 1000);
const DUE_SPREAD_S = Number(process.env.SCALE_DUE_SPREAD_S ?? 10);
/** The first change comes this long after seeding ends: after the restore, which it cannot know in advance. */
const LEAD_MS = Number(process.env.SCALE_LEAD_MS ?? 60_000);
const ASKERS = Number(process.env.SCALE_ASKERS ?? 1000);
const STEP_S = Number(process.env.SCALE_STEP_S ?? 8);
const SEED_LANES = Number(process.env.SCALE_SEED_LANES ?? 16);
const PROCESSING_DELAY_MS = 5000; // the production default (TWITTER_PROCESSING_DELAY_MS)
/** Identifies per 5 s the Discord server allows: 2 lets both children connect at once (Discord's default for most bots is 1,
 *  and the manager then starts the second child 5.5 s after the first). */
const MAX_CONCURRENCY = 2;

type StoreName = 'redis' | 'postgres' | 'sqlite';
type Figures = Record<string, number | string | boolean | number[]>;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const discordId = (i: number) => String(600_000_000_000_000_000n + BigInt(i));

function statusOf(pid: number): { rss: number; hwm: number; parent: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, parent: Number(/PPid:\s+(\d+)/.exec(text)?.[1]) };
  } catch {
    return undefined; // the process is gone
  }
}

/** The store for one run: a private server, or a SQLite file; `dispose` removes it. */
async function storeFor(name: StoreName, dir: string): Promise<{ url: string; server?: PrivateServer }> {
  if (name === 'redis') {
    const server = await startPrivateRedis();
    return { url: server.url, server };
  }
  if (name === 'postgres') {
    const server = await startPrivatePostgres();
    return { url: server.url, server };
  }
  return { url: `sqlite://${join(dir, 'bot.sqlite')}` };
}

/** A histogram's cumulative buckets, summed over the processes' /metrics. */
async function latenessBuckets(ports: number[]): Promise<Map<number, number>> {
  const buckets = new Map<number, number>();
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const match of text.matchAll(/^avatar_bot_schedule_fire_lateness_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)) {
      const le = match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
    }
  }
  return buckets;
}

/** histogram_quantile: linear within the bucket holding the quantile; its upper bound as well. */
function histogramQuantile(buckets: Map<number, number>, q: number): { value: number; bucket: number } {
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const count = sorted.at(-1)?.[1] ?? 0;
  if (count === 0) return { value: Number.NaN, bucket: Number.NaN };
  const rank = q * count;
  let [lowerBound, lowerCount] = [0, 0];
  for (const [bound, cumulative] of sorted) {
    if (cumulative >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return { value: lowerBound, bucket: bound };
      return { value: lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(1, cumulative - lowerCount), bucket: bound };
    }
    [lowerBound, lowerCount] = [bound, cumulative];
  }
  return { value: Number.NaN, bucket: Number.NaN };
}

/** The reply of an interaction: @original with words in it (not the "thinking…" placeholder). */
const answered = (interaction: Interaction) => {
  const message = interaction.original;
  return message !== undefined && (message.embeds.length > 0 || message.content.length > 0);
};

interface Step {
  inFlight: number;
  perSecond: number;
  answered: number;
  unanswered: number;
  otherReplies: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * `/twitter status` in a closed loop: `inFlight` askers at a time, each asking again once answered, while
 * `going()`; answers counted when @original holds the reply. One poller checks every request in flight (the
 * server's own waiters re-run on every event, which would load this process as much as the bot).
 */
function asking(discord: DiscordServer, askers: Array<{ user: TestUser; guild: TestGuild }>) {
  const waiting = new Map<Interaction, (ok: boolean) => void>();
  const poller = setInterval(() => {
    const now = performance.now();
    for (const [interaction, done] of waiting) {
      if (answered(interaction)) done(true);
      else if (now - interaction.sentAt > 20_000 || interaction.callbacks.some((callback) => callback.status >= 300)) done(false);
      else continue;
      waiting.delete(interaction);
    }
  }, 5);
  let next = 0;
  async function loop(inFlight: number, going: () => boolean): Promise<{ latencies: number[]; unanswered: number; otherReplies: number }> {
    const latencies: number[] = [];
    let unanswered = 0;
    let otherReplies = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (going()) {
        const { user, guild } = askers[next++ % askers.length]!;
        const interaction = await discord.slash(user, { name: 'twitter', subcommand: 'status' }, { guildId: guild.id });
        const ok = await new Promise<boolean>((done) => waiting.set(interaction, done));
        if (!ok) unanswered++;
        else if (going()) {
          latencies.push(performance.now() - interaction.sentAt);
          if ((interaction.original?.embeds[0]?.fields?.length ?? 0) === 0) otherReplies++; // not the status embed: an error reply
        }
      }
    }));
    return { latencies, unanswered, otherReplies };
  }
  return { loop, close: () => clearInterval(poller) };
}

/** The closed loop at 4, 8, 16, … in flight for STEP_S each, until the answered rate grows by less than 5 %. */
async function saturate(discord: DiscordServer, askers: Array<{ user: TestUser; guild: TestGuild }>, title: string): Promise<Step[]> {
  const asker = asking(discord, askers);
  const steps: Step[] = [];
  try {
    for (let inFlight = 4; inFlight <= 512; inFlight *= 2) {
      const endsAt = performance.now() + STEP_S * 1000;
      const { latencies, unanswered, otherReplies } = await asker.loop(inFlight, () => performance.now() < endsAt);
      const step = { inFlight, perSecond: round(latencies.length / STEP_S, 1), answered: latencies.length, unanswered, otherReplies, p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
      steps.push(step);
      console.log(`${title}: ${inFlight} in flight: ${step.perSecond}/s answered (p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms), ${unanswered} unanswered, ${otherReplies} not the status`);
      const best = Math.max(...steps.slice(0, -1).map((s) => s.perSecond), 0);
      if (steps.length >= 3 && step.perSecond < best * 1.05) break;
    }
  } finally {
    asker.close();
  }
  return steps;
}

interface Seeded {
  seedS: number;
  dueAtMs: number[];
  dueX: Set<string>;
  /** The due users' Discord ids: each change is announced to them by DM. */
  dueUsers: Set<string>;
  askers: Array<{ user: TestUser; guild: TestGuild }>;
}

/** Every user linked (sealed by the vault) with one applied schedule; DUE of them change during the run. */
async function seed(storeName: StoreName, url: string, key: Buffer, discord: DiscordServer, x: Awaited<ReturnType<typeof startXServer>>, guilds: TestGuild[]): Promise<Seeded> {
  const started = performance.now();
  const image = { data: await sharp(readFileSync('test/fixtures/images/sharp/concert.jpg')).resize(400, 400).jpeg({ quality: 70 }).toBuffer(), format: 'jpeg' as const };
  const store = await openStore(url);
  if (storeName === 'sqlite') await fastWrites(store, ['tokens', 'library', 'library-images', 'history', 'images', 'schedules']);
  const pieces = { vault: createTokenVault(store, createSecretBox(key)), library: createAvatarLibrary(store), history: createAvatarHistory(store) };
  const records = store.namespace<ScheduleRecord>('schedules');
  const nowMs = Date.now();
  const dueEvery = Math.max(1, Math.floor(USERS / DUE));
  const isDue = (i: number) => i % dueEvery === dueEvery - 1 && Math.floor(i / dueEvery) < DUE;
  const isAsker = (i: number) => i < ASKERS;
  const due: Array<{ user: string }> = [];
  const dueX = new Set<string>();
  let batch: Array<{ key: string; value: ScheduleRecord }> = [];
  let next = 0;
  await Promise.all(Array.from({ length: SEED_LANES }, async () => {
    for (let i = next++; i < USERS; i = next++) {
      const user = discordId(i);
      // Only those who talk to X in the run get an X account: the X server's addUser checks every screen name
      // taken (100,000 took minutes); the others' links are sealed all the same, with tokens of X's shape.
      const account = isDue(i) || isAsker(i) ? x.addUser({ screenName: `s${i}` }) : undefined;
      const link = account
        ? { id: account.id, screenName: account.screenName, ...account.accessToken }
        : { id: String(1_700_000_000_000_000_000n + BigInt(i)), screenName: `s${i}`, token: `${i}-${randomBytes(20).toString('hex')}`, secret: randomBytes(22).toString('base64url') };
      if (account && isDue(i)) {
        await seedLinkedUser(pieces, user, link, image, x.profileImageUrl(account.id), nowMs);
        due.push({ user });
        dueX.add(account.id);
        discord.addUser({ id: user, username: `due${i}` }); // their notices are DMs
        continue;
      }
      await pieces.vault.save(user, { xUserId: link.id, screenName: link.screenName, token: link.token, secret: link.secret });
      batch.push({ key: user, value: appliedOrdinaryRecord(i, nowMs, seededRandom(20_260_501 + i)).record });
      if (batch.length >= 1000) {
        const full = batch;
        batch = [];
        await records.setMany(full);
      }
    }
  }));
  if (batch.length) await records.setMany(batch);
  // The changes during the run: D, D + 1 s, … over the spread, each a rotation whose cron matches only its second.
  const firstDueMs = Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000;
  const dueAtMs: number[] = [];
  for (const [n, { user }] of due.entries()) {
    const atMs = firstDueMs + (n % DUE_SPREAD_S) * 1000;
    const record = dueRecord(n, atMs, Date.now());
    const now = new Date();
    if (activeImageAt(record, now).image !== 'a' || nextChangeAt(record, now)?.at.getTime() !== atMs) throw new Error('a due record does not change to b at its instant');
    const at = new Date(Date.now() - 2 * 3_600_000).toISOString();
    record.applied = { image: 'a', at };
    record.lastRun = { at, outcome: 'applied', detail: 'a' };
    await records.set(user, record);
    dueAtMs.push(atMs);
  }
  await store.close();
  // The askers: the first ASKERS users, members of a guild of each shard in turn.
  const askers = Array.from({ length: Math.min(ASKERS, USERS) }, (_, i) => {
    const guild = guilds[i % guilds.length]!;
    return { user: discord.addMember({ id: discordId(i), username: `asker${i}`, guildId: guild.id }), guild };
  });
  return { seedS: (performance.now() - started) / 1000, dueAtMs, dueX, dueUsers: new Set(due.map(({ user }) => user)), askers };
}

async function runStore(storeName: StoreName): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), `avatar-bot-scale-${storeName}-`));
  const { url, server } = await storeFor(storeName, dir);
  const discord = await startDiscordServer({ shards: 2, maxConcurrency: MAX_CONCURRENCY });
  const x = await startXServer({ processingDelayMs: PROCESSING_DELAY_MS / 2, uploadLatencyMs: 200, readLatencyMs: 50, downloadLatencyMs: 50 });
  const key = randomBytes(32);
  // Several processes only on Redis and PostgreSQL: the bot refuses them on SQLite.
  const processes = storeName === 'sqlite' ? 1 : 2;
  const shardEnv = { SHARD_COUNT: '2', SHARDS_PER_PROCESS: processes === 2 ? '1' : '2' };
  let bot: BotProcess | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
    const guilds = [discord.addGuild({ shard: 0, name: 'Shard Zero' }), discord.addGuild({ shard: 1, name: 'Shard One' })];
    console.log(`${storeName}: seeding ${USERS} users…`);
    const seeded = await seed(storeName, url, key, discord, x, guilds);
    console.log(`${storeName}: seeded in ${round(seeded.seedS, 1)} s; first change due in ${round((seeded.dueAtMs[0]! - Date.now()) / 1000, 1)} s`);

    const spawnedWall = Date.now();
    const peaks = new Map<number, number>();
    const env = { STORE_URL: url, TOKEN_ENCRYPTION_KEY: key.toString('base64'), TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_DELAY_MS), ...shardEnv };
    const botStarting = startBotProcess(discord, x, 'npm', env, processes);
    bot = await botStarting;
    const started = bot;
    const pids = processes > 1 ? started.shardProcesses.map((child) => child.pid) : [started.pid];
    const ports = processes > 1 ? started.shardProcesses.map((child) => child.port) : [started.port];
    const sample = () => {
      for (const pid of pids) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, statusOf(pid)?.rss ?? 0));
    };
    sample();
    sampler = setInterval(sample, 250);
    const logged = (message: string) => started.lines.filter((line) => line.includes(`"msg":"${message}"`)).map((line) => JSON.parse(line) as Record<string, unknown>);
    const readyLines = logged('bot ready');
    const readyMs = Math.max(...readyLines.map((line) => Date.parse(line.time as string) - spawnedWall));

    // The restore: every process's catch-up done.
    const deadline = Date.now() + 15 * 60_000;
    while (logged('schedule catch-up done').length < processes && Date.now() < deadline) await sleep(100);
    const catchUps = logged('schedule catch-up done');
    const restoreS = Math.max(...catchUps.map((line) => Number(line.catchup_done_ms) / 1000));
    const restoreEndWall = Date.now();

    // The changes due during the run: fired (the histogram) and applied (the log) by the deadline.
    const lastDue = Math.max(...seeded.dueAtMs);
    const changesDeadline = Math.max(lastDue, Date.now()) + 90_000;
    let buckets = await latenessBuckets(ports);
    const fired = () => Math.max(0, ...[...buckets.values()]);
    while ((fired() < seeded.dueAtMs.length || logged('scheduled change applied').length < seeded.dueAtMs.length) && Date.now() < changesDeadline) {
      await sleep(500);
      buckets = await latenessBuckets(ports);
    }
    const late = histogramQuantile(buckets, 0.99);
    const appliedLate = logged('scheduled change applied').map((line) => Date.parse(line.time as string) - Number(line.due));
    const dueUploads = new Set(x.uploads.filter((upload) => seeded.dueX.has(upload.userId)).map((upload) => upload.userId)).size;
    const otherUploads = x.uploads.filter((upload) => !seeded.dueX.has(upload.userId)).length;

    // The changes' DM notices: the bot's REST client sends at most 50 bot requests a second per process (discord.js's
    // globalRequestsPerSecond); interaction replies go apart (src/bot/client.ts). /twitter status, 4 in flight, is
    // asked while they drain: its answers must not wait behind them (they did, p50 1050 ms, when they shared it).
    const noticesFrom = performance.now();
    const notices = () => discord.messages.filter((message) => typeof message.recipientId === 'string' && seeded.dueUsers.has(message.recipientId)).length;
    const draining = () => notices() < seeded.dueUsers.size && performance.now() - noticesFrom < 180_000;
    const duringAsker = asking(discord, seeded.askers);
    const [during] = await Promise.all([
      duringAsker.loop(4, draining).finally(() => duringAsker.close()),
      (async () => {
        while (draining()) await sleep(200);
      })(),
    ]);
    const noticesS = (performance.now() - noticesFrom) / 1000;

    // Interactions at saturation.
    const steps = await saturate(discord, seeded.askers, storeName);
    const best = steps.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    sample();
    const hwm = pids.map((pid) => Math.max(peaks.get(pid) ?? 0, statusOf(pid)?.hwm ?? 0));
    // Started by npm: the manager is the children's parent (npm's own process is not the bot's).
    const managerRss = processes > 1 ? statusOf(statusOf(pids[0]!)?.parent ?? -1)?.hwm : undefined;
    const problems = started.lines.filter((line) => /"level":(40|50|60)/.test(line));

    const figures: Figures = {
      users: USERS,
      store: storeName,
      processes,
      ...(processes === 1 ? { one_process_why: 'several processes are refused on SQLite (only Redis and PostgreSQL coordinate them)' } : {}),
      ready_ms: round(readyMs),
      rss_mb_per_process: hwm.map((mb) => round(mb, 1)),
      // V8's heap limit in each process, as its "bot ready" line says (npm start's --max-old-space-size).
      heap_limit_mb: [...new Set(readyLines.map((line) => Number(line.heap_limit_mb)))],
      restore_s: round(restoreS, 2),
      // The bucket's bound: the histogram says no more (interpolating within the bucket assumes fires spread evenly in it).
      late_p99_ms: late.bucket * 1000,
      late_p99_interpolated_ms: round(late.value * 1000),
      interactions_per_s: best.perSecond,
      in_flight_at_best: best.inFlight,
      // /twitter status at 4 in flight while the changes' DM notices drain (the bot's REST budget full).
      status_p50_ms_while_notices: round(percentile(during.latencies, 50)),
      status_p99_ms_while_notices: round(percentile(during.latencies, 99)),
      status_answered_while_notices: during.latencies.length,
      fires: fired(),
      due: seeded.dueAtMs.length,
      due_spread_s: DUE_SPREAD_S,
      lead_ms: LEAD_MS,
      askers: seeded.askers.length,
      seed_s: round(seeded.seedS, 1),
      // Everything not production: the harness's settings (local servers, PORT=0) and these.
      shard_count: 2,
      shards_per_process: Number(shardEnv.SHARDS_PER_PROCESS),
      discord_max_concurrency: MAX_CONCURRENCY,
      processing_delay_ms: PROCESSING_DELAY_MS,
      // The test environment's (localBotEnv): the 1,000 changes come due over due_spread_s, not spread further (production: 60).
      schedule_spread_s: 0,
      ...(storeName === 'postgres' ? { postgres: 'private cluster, fsync=off' } : {}),
      ...(storeName === 'redis' ? { redis: 'private server, appendonly yes, appendfsync always' } : {}),
    };
    const target = (ok: boolean) => (ok ? 'met' : 'MISSED');
    printTable(
      `${USERS} linked users with a schedule each on ${storeName}: ${processes === 2 ? 'the shard manager with 2 processes, one shard each' : `one process with both shards (SHARD_COUNT=2, SHARDS_PER_PROCESS=2): ${figures.one_process_why}`}`,
      ['measure', 'value', 'target'],
      [
        ['seeding (s)', figures.seed_s as number, ''],
        ['spawn to the last "bot ready" (ms); each process\'s own ready_ms', `${figures.ready_ms}; ${readyLines.map((line) => line.ready_ms).join(' / ')}`, `< 5000 ${target(readyMs < 5000)}`],
        ['peak RSS per process (MB)' + (managerRss ? `; the manager ${round(managerRss, 1)}` : ''), hwm.map((mb) => round(mb, 1)).join(' / '), `< 400 ${target(hwm.every((mb) => mb < 400))}`],
        ['restore: catchup_done_ms per process (s); users caught up', `${catchUps.map((line) => round(Number(line.catchup_done_ms) / 1000, 2)).join(' / ')}; ${catchUps.map((line) => line.users).join(' / ')}`, ''],
        ['restore ended before the first change was due by (s)', round((seeded.dueAtMs[0]! - restoreEndWall) / 1000, 1), '> 0'],
        ['changes fired / due (the histogram, all processes)', `${fired()} / ${seeded.dueAtMs.length}`, ''],
        ['fire lateness p99 (ms): at most (its bucket\'s bound); interpolated', `<= ${figures.late_p99_ms}; ${figures.late_p99_interpolated_ms}`, `< 1000 ${target(late.bucket * 1000 < 1000)}`],
        ['change applied after its instant (ms, log), p50 / p99; X wait included', appliedLate.length ? `${round(percentile(appliedLate, 50))} / ${round(percentile(appliedLate, 99))}` : 'none', ''],
        ['DM notices delivered / due; waited for them after the changes (s)', `${notices()} / ${seeded.dueUsers.size}; ${round(noticesS, 1)}`, ''],
        ['/twitter status while they drained, 4 in flight: answered (p50 / p99 ms; unanswered)', `${during.latencies.length} (${figures.status_p50_ms_while_notices} / ${figures.status_p99_ms_while_notices}; ${during.unanswered})`, ''],
        ['due users uploaded at X / uploads for anyone else', `${dueUploads} / ${otherUploads}`, `${seeded.dueAtMs.length} / 0`],
        ...steps.map((step): Array<string | number> => [`/twitter status, ${step.inFlight} in flight: answered/s (p50 / p99 ms; unanswered)`, `${step.perSecond} (${step.p50Ms} / ${step.p99Ms}; ${step.unanswered})`, '']),
        ['interactions_per_s (the best step)', best.perSecond, ''],
      ],
    );
    if (problems.length) {
      const byMessage = new Map<string, number>();
      for (const line of problems) {
        const message = String((JSON.parse(line) as { msg?: unknown }).msg);
        byMessage.set(message, (byMessage.get(message) ?? 0) + 1);
      }
      console.log(`bot warnings and errors (${problems.length}): ${[...byMessage].map(([message, count]) => `${count} × ${message}`).join('; ')}; first: ${problems[0]}`);
    }
    return figures;
  } finally {
    if (sampler) clearInterval(sampler);
    if (bot) {
      process.kill(bot.pid, 'SIGTERM');
      await Promise.race([bot.exited, sleep(60_000)]);
      bot.cleanUp();
    }
    await Promise.all([discord.close(), x.close()]);
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  console.log(`scale: ${USERS} users${USERS === 100_000 ? '' : ' (SCALE_USERS)'}, stores ${STORES.join(', ')}, ${DUE} changes during the run, ${ASKERS} askers`);
  for (const store of STORES) printFigures(await runStore(store));
}
