/**
 * `npm run bench -- schedules`: 10,000 users with an active schedule each. How long the scheduler takes
 * to restore them at start, how much memory that adds, and how late the fires are when 200 of them are
 * due in the same second. Targets: restore under 2 s, under 150 MB extra RSS, p99 lateness under 1 s.
 *
 * Everything is real and in this process: a SQLite store in a temp directory, the token vault, library,
 * history and schedule stores, the avatar use case with the X client against the local X-compatible
 * server, and the scheduler (node-cron timing, local coordination) wired as `createServices` wires it.
 * The scheduler is built with `createScheduler` from the services' own pieces only to pass `onFire`.
 *
 * Every record is written already applied (`applied` is what the engine says is active now), so the
 * restore's catch-up uploads nothing; every schedule's next change is checked to be more than
 * SAFE_MS away, except for the 200 users (every 50th, so spread over the restore) due at the instant D.
 * Lateness is what `onFire` sees: the instant the scheduler's fire started minus D.
 *
 * RSS: the baseline is taken after a full GC (the flag is turned on at run time) with the X server and
 * the services already built, so "extra" is what building and starting the scheduler adds.
 *
 * Knobs: SCHEDULES_USERS, SCHEDULES_DUE, SCHEDULES_LEAD_MS, SCHEDULES_SEED_LANES; SCHEDULES_KEEP=1 keeps
 * the SQLite file (its path is printed) for profiling a restore on its own.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type Keyv from 'keyv';
import sharp from 'sharp';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { activeImageAt, nextChangeAt, zonedTimeToInstant, type Schedule } from '../src/schedule/engine.js';
import { createScheduler } from '../src/schedule/scheduler.js';
import { localCoordination } from '../src/coordination/runs.js';
import { createServices } from '../src/services.js';
import { openStore, type Store } from '../src/store/backend.js';
import { createSecretBox } from '../src/store/cipher.js';
import { createAvatarHistory } from '../src/avatar/history.js';
import { createAvatarLibrary } from '../src/library/store.js';
import { createScheduleStore, type ScheduleRecord } from '../src/schedule/store.js';
import { createTokenVault } from '../src/accounts/vault.js';
import { seededRandom } from '../test/support/seeded-random.js';
import { localBotEnv, localServicesEnv } from '../test/support/bot-harness.js';
import { startDiscordServer } from '../test/support/discord-server.js';
import { dueWhileDownRecord } from '../test/support/due-schedules.js';
import { canPin, pinSelf } from '../test/support/x-server-process.js';
import { commands } from '../commands/index.js';
import { registerCommands } from '../src/bot/register.js';
import { startXServer } from '../test/support/x-server.js';
import { percentile, printFigures, printTable, round } from './report.js';

const USERS = Number(process.env.SCHEDULES_USERS ?? 10_000);
const DUE_TOGETHER = Number(process.env.SCHEDULES_DUE ?? 200);
/**
 * D is this long after seeding ends. It must come after the restore ends (target 2 s), which it cannot
 * know in advance; 40 s leaves room for a restore 20 times the target (it measured 16-22 s on a 2-core machine).
 */
const LEAD_MS = Number(process.env.SCHEDULES_LEAD_MS ?? 40_000);
const SEED_LANES = Number(process.env.SCHEDULES_SEED_LANES ?? 8);
/** No other schedule may change within this long of seeding (beyond the 10-minute arm window). */
const SAFE_MS = 30 * 60_000;
const DAY_MS = 86_400_000;
const ZONES = ['UTC', 'Europe/London', 'Europe/Paris', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Sydney'];

/** A full collection, when the flag can be turned on at run time (npm cannot pass --expose-gc). */
function collector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
const rssMb = () => process.memoryUsage().rss / 2 ** 20;


const pad = (n: number) => String(n).padStart(2, '0');
const monthDay = (ms: number) => `${pad(new Date(ms).getUTCMonth() + 1)}-${pad(new Date(ms).getUTCDate())}`;
const localMinute = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** One ordinary user's schedule: a season, a rotation (daily, weekly or a cron) or a future event. */
function ordinaryRecord(i: number, attempt: number, nowMs: number, random: () => number): ScheduleRecord {
  const timezone = ZONES[Math.floor(random() * ZONES.length)]!;
  const createdAt = new Date(nowMs - Math.floor((1 + random() * 300) * DAY_MS)).toISOString();
  const id = `s${i}`;
  let schedule: Schedule;
  let defaultImage: string | undefined;
  switch ((i + attempt) % 6) {
    case 0: {
      const from = nowMs + (random() * 365 - 182) * DAY_MS;
      schedule = { kind: 'season', id, createdAt, image: 'b', from: monthDay(from), to: monthDay(from + (2 + random() * 60) * DAY_MS), priority: Math.floor(random() * 3) };
      defaultImage = 'a';
      break;
    }
    case 1:
      schedule = { kind: 'rotation', id, createdAt, images: ['a', 'b'], every: 'daily', order: 'sequence' };
      break;
    case 2:
      schedule = { kind: 'rotation', id, createdAt, images: ['a', 'b'], every: 'weekly', order: 'random' };
      break;
    case 3:
      schedule = { kind: 'rotation', id, createdAt, images: ['a', 'b'], every: `${Math.floor(random() * 60)} ${Math.floor(random() * 24)} * * ${Math.floor(random() * 7)}`, order: 'sequence' };
      break;
    case 4:
      schedule = { kind: 'event', id, createdAt, image: 'b', at: localMinute(nowMs + (1 + random() * 200) * DAY_MS) };
      defaultImage = 'a';
      break;
    default: {
      const at = nowMs + (1 + random() * 100) * DAY_MS;
      schedule = { kind: 'event', id, createdAt, image: 'b', at: localMinute(at), until: localMinute(at + (1 + random() * 48) * 3_600_000) };
      defaultImage = 'a';
    }
  }
  const record: ScheduleRecord = { timezone, schedules: [schedule], notify: random() < 0.5 ? { mode: 'dm' } : { mode: 'off' } };
  if (defaultImage) record.defaultImage = defaultImage;
  if (schedule.kind === 'rotation' && schedule.order === 'random') record.rotationState = { [id]: { current: random() < 0.5 ? 'a' : 'b', lastChangedAt: createdAt } };
  return record;
}

/**
 * One of the users due together: a two-image sequence rotation whose 6-field cron matches only the
 * second D (UTC), created a day ago, so it shows 'a' now (no fire since it was created) and 'b' from D.
 * Events are minute-granular, and a cron with seconds puts D wherever the run needs it.
 */
export function dueRecord(i: number, dueMs: number, nowMs: number): ScheduleRecord {
  const d = new Date(dueMs);
  const every = `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
  const createdAt = new Date(nowMs - DAY_MS).toISOString();
  return { timezone: 'UTC', schedules: [{ kind: 'rotation', id: `s${i}`, createdAt, images: ['a', 'b'], every, order: 'sequence' }], notify: { mode: 'dm' } };
}

/** An ordinary user's record that changes nothing within SAFE_MS, written as already applied. */
export function appliedOrdinaryRecord(i: number, nowMs: number, random: () => number): { record: ScheduleRecord; redraws: number } {
  let record: ScheduleRecord | undefined;
  let redraws = 0;
  for (let attempt = 0; attempt < 6 && !record; attempt++) {
    const candidate = ordinaryRecord(i, attempt, nowMs, random);
    const next = nextChangeAt(candidate, new Date(nowMs));
    if (next === undefined || next.at.getTime() > nowMs + SAFE_MS) record = candidate;
    else redraws++;
  }
  if (!record) throw new Error(`user ${i}: every candidate schedule changes within ${SAFE_MS / 60_000} minutes`);
  const active = activeImageAt(record, new Date(nowMs)).image;
  const at = new Date(nowMs - Math.floor(random() * 7 * DAY_MS)).toISOString();
  if (active !== undefined) {
    record.applied = { image: active, at };
    record.lastRun = { at, outcome: 'applied', detail: active };
  }
  return { record, redraws };
}

export interface SeedPieces {
  vault: ReturnType<typeof createTokenVault>;
  library: ReturnType<typeof createAvatarLibrary>;
  history: ReturnType<typeof createAvatarHistory>;
}

/** A linked user whose library holds "a" and "b", and whose history says a schedule applied one already. */
export async function seedLinkedUser(pieces: SeedPieces, user: string, account: { id: string; screenName: string; token: string; secret: string }, image: { data: Buffer; format: 'jpeg' }, url: string, nowMs: number): Promise<void> {
  await pieces.vault.save(user, { xUserId: account.id, screenName: account.screenName, token: account.token, secret: account.secret });
  await pieces.library.add(user, 'a', image);
  await pieces.library.add(user, 'b', image); // same bytes: content-addressed, stored once
  // Their schedules already applied images, so history holds the original and the applied one.
  const hash = await pieces.history.putImage(user, image);
  await pieces.history.saveOriginal(user, { saved: true, hash, format: 'jpeg', savedAt: new Date(nowMs - 30 * DAY_MS).toISOString(), url });
  await pieces.history.append(user, { hash, format: 'jpeg', source: 'schedule', label: 'seeded', url400: url });
}

/** Seeding only: this store's connections skip fsync and keep the journal in memory (per connection, not persisted). */
export async function fastWrites(store: Store, names: string[]): Promise<void> {
  for (const name of names) {
    const adapter = (store.namespace(name) as Keyv & { store: { query(sql: string): Promise<unknown> } }).store;
    await adapter.query('PRAGMA synchronous = OFF');
    await adapter.query('PRAGMA journal_mode = MEMORY');
  }
}

async function burst(): Promise<Record<string, number>> {
  const gc = collector();
  const x = await startXServer({ processingDelayMs: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-schedules-'));
  const key = randomBytes(32);
  const storeUrl = `sqlite://${join(dir, 'bot.sqlite')}`;
  // A typical stored avatar: the normaliser's output size (400x400 JPEG).
  const image = { data: await sharp(readFileSync('test/fixtures/images/sharp/concert.jpg')).resize(400, 400).jpeg({ quality: 70 }).toBuffer(), format: 'jpeg' as const };

  // ---- Seed 10,000 linked users, each with a library, a history and one applied schedule.
  const seedStarted = performance.now();
  const xUsers = Array.from({ length: USERS }, (_, i) => x.addUser({ screenName: `u${i}`, id: String(1_790_000_000_000_000_001n + BigInt(i)) }));
  const xUsersMs = performance.now() - seedStarted;
  const discordId = (i: number) => String(300_000_000_000_000_000n + BigInt(i));
  const dueEvery = Math.floor(USERS / DUE_TOGETHER);
  const isDue = (i: number) => i % dueEvery === dueEvery - 1 && Math.floor(i / dueEvery) < DUE_TOGETHER;

  const seedStore = await openStore(storeUrl);
  await fastWrites(seedStore, ['tokens', 'library', 'library-images', 'history', 'images', 'schedules']);
  const vault = createTokenVault(seedStore, createSecretBox(key));
  const seedLibrary = createAvatarLibrary(seedStore);
  const history = createAvatarHistory(seedStore);
  const seedSchedules = createScheduleStore(seedStore);
  const nowMs = Date.now();
  const kinds = new Map<string, number>();
  let redrawn = 0;
  const dueUsers: Array<{ discordId: string; xUserId: string }> = [];

  async function seedUser(i: number): Promise<void> {
    const user = discordId(i);
    const account = xUsers[i]!;
    const random = seededRandom(20_260_101 + i);
    await seedLinkedUser({ vault, library: seedLibrary, history }, user, { id: account.id, screenName: account.screenName, ...account.accessToken }, image, x.profileImageUrl(account.id), nowMs);
    if (isDue(i)) {
      dueUsers.push({ discordId: user, xUserId: account.id }); // written once D is known, below
      return;
    }
    const { record, redraws } = appliedOrdinaryRecord(i, nowMs, random);
    redrawn += redraws;
    const schedule = record.schedules[0]!;
    const kind = schedule.kind === 'rotation' ? `rotation ${schedule.every.includes(' ') ? 'cron' : schedule.every}` : schedule.kind;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    await seedSchedules.update(user, () => record);
  }
  // A few users at a time: the writes share one SQLite file, so more lanes only wait on its lock.
  let nextUser = 0;
  await Promise.all(Array.from({ length: SEED_LANES }, async () => {
    while (nextUser < USERS) await seedUser(nextUser++);
  }));
  // D: a whole second, LEAD_MS after seeding ends, so the restore ends well before it.
  const dueMs = Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000;
  for (const [n, { discordId: user }] of dueUsers.entries()) {
    const record = dueRecord(n, dueMs, Date.now());
    const now = new Date();
    const next = nextChangeAt(record, now);
    if (activeImageAt(record, now).image !== 'a' || next?.at.getTime() !== dueMs || next.image !== 'b') throw new Error('a due record does not change to b at D');
    const at = new Date(Date.now() - 2 * 3_600_000).toISOString();
    record.applied = { image: 'a', at };
    record.lastRun = { at, outcome: 'applied', detail: 'a' };
    await seedSchedules.update(user, () => record);
  }
  kinds.set('rotation due at D', dueUsers.length);
  await seedStore.close();
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  // ---- The bot's services, as production wires them (its own scheduler is built but never started).
  const logger = createLogger({ level: 'silent' });
  const services = await createServices(
    parseConfig(localServicesEnv(x, dir, { TOKEN_ENCRYPTION_KEY: key.toString('base64'), STORE_URL: storeUrl, SCHEDULE_MIN_INTERVAL_MS: '0' })),
    logger,
  );

  const fires: Array<{ user: string; dueMs: number; startedMs: number }> = [];
  try {
    gc?.();
    gc?.();
    await new Promise((done) => setTimeout(done, 100));
    const baselineRss = rssMb();
    const baselineHeap = process.memoryUsage().heapUsed / 2 ** 20;
    let peakRss = baselineRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb())), 20);

    // The bot's own records, opened beside its services (which expose use cases, not stores), as a second bot process would.
    const records = await openStore(storeUrl);
    const scheduler = createScheduler({
      schedules: createScheduleStore(records),
      library: createAvatarLibrary(records),
      avatars: services.avatars,
      coordination: localCoordination(),
      logger: logger.child({ component: 'scheduler' }),
      notify: async () => false,
      minIntervalMs: 0,
      onFire: (user, due, started) => fires.push({ user, dueMs: due, startedMs: started }),
    });
    const restoreStarted = performance.now();
    const restored = await scheduler.start();
    const restoreSeconds = (performance.now() - restoreStarted) / 1000;
    const restoreEndMs = Date.now();
    const afterRss = rssMb();
    const restorePeakRss = Math.max(peakRss, afterRss);
    const uploadsAfterRestore = x.uploads.length;
    gc?.();
    gc?.();
    const retainedRss = rssMb();
    const retainedHeap = process.memoryUsage().heapUsed / 2 ** 20;
    peakRss = retainedRss;

    // ---- The burst: wait for the fires, their uploads, and every due record to say 'b' is applied.
    const deadline = dueMs + 60_000;
    const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
    while ((fires.length < dueUsers.length || x.uploads.length < uploadsAfterRestore + dueUsers.length) && Date.now() < deadline) await sleep(50);
    let appliedB = 0;
    for (;;) {
      appliedB = 0;
      for (const { discordId: user } of dueUsers) if ((await services.schedules.get(user)).applied?.image === 'b') appliedB++;
      if (appliedB === dueUsers.length || Date.now() >= deadline) break;
      await sleep(100);
    }
    const burstEndMs = Date.now();
    clearInterval(sampler);
    const late = fires.map((fire) => fire.startedMs - fire.dueMs);
    const dueX = new Set(dueUsers.map((user) => user.xUserId));
    const burstUploads = x.uploads.slice(uploadsAfterRestore);
    const uploadedDue = new Set(burstUploads.filter((upload) => dueX.has(upload.userId)).map((upload) => upload.userId)).size;
    const uploadedOthers = burstUploads.filter((upload) => !dueX.has(upload.userId)).length;
    const lastUploadMs = Math.max(...burstUploads.map((upload) => upload.at));
    await scheduler.stop();
    await records.close();

    const figures = {
      schedules: USERS,
      restore_s: round(restoreSeconds, 3),
      extra_rss_mb: round(afterRss - baselineRss, 1),
      late_p50_ms: late.length ? round(percentile(late, 50)) : -1,
      late_p99_ms: late.length ? round(percentile(late, 99)) : -1,
    };
    const marginS = (dueMs - restoreEndMs) / 1000;
    console.log(
      `seeded ${USERS} users in ${round(seedSeconds, 1)} s (X accounts ${round(xUsersMs / 1000, 1)} s; ${redrawn} drawn schedules redrawn because they changed within ${SAFE_MS / 60_000} min): ` +
        [...kinds].sort().map(([kind, count]) => `${kind} ${count}`).join(', '),
    );
    if (marginS < 1) console.log(`warning: the restore ended ${round(-marginS, 1)} s after D, so the burst overlapped it; raise SCHEDULES_LEAD_MS`);
    printTable(`${USERS} active schedules restored from SQLite; ${dueUsers.length} due in the same second D, ${round(marginS, 1)} s after the restore ended`, ['measure', 'value', 'target'], [
      ['restore: scheduler.start() (s)', figures.restore_s, '< 2'],
      ['users restored / timers armed', `${restored.users} / ${restored.armed}`, `${USERS} / ${dueUsers.length}`],
      ['uploads by the catch-up', uploadsAfterRestore, '0'],
      [`RSS before start (MB${gc ? ', after full GC' : ''})`, round(baselineRss, 1), ''],
      ['extra RSS right after start (MB)', figures.extra_rss_mb, '< 150'],
      ['extra RSS peak during the restore (MB)', round(restorePeakRss - baselineRss, 1), ''],
      [`extra RSS retained after start (MB${gc ? ', after full GC' : ', no GC available'})`, round(retainedRss - baselineRss, 1), ''],
      ['extra JS heap retained after start (MB)', round(retainedHeap - baselineHeap, 1), ''],
      ['extra RSS peak during the burst (MB, X server in process)', round(peakRss - baselineRss, 1), ''],
      ['fires of the due users', `${fires.length}/${dueUsers.length}`, `${dueUsers.length}/${dueUsers.length}`],
      ['lateness, started minus due (ms), p50 / p99 / max', late.length ? `${figures.late_p50_ms} / ${figures.late_p99_ms} / ${round(Math.max(...late))}` : 'no fires', 'p99 < 1000'],
      ['due users uploaded to X / records applied "b"', `${uploadedDue} / ${appliedB}`, `${dueUsers.length} / ${dueUsers.length}`],
      ['uploads for anyone else', uploadedOthers, '0'],
      ['last upload reached X, after D (ms)', burstUploads.length ? round(lastUploadMs - dueMs) : 'none', ''],
      ['every due record applied, after D (ms)', round(burstEndMs - dueMs), ''],
    ]);
    return figures;
  } finally {
    await services.close();
    await x.close();
    if (process.env.SCHEDULES_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** The test environment without its SCHEDULE_SPREAD_S=0: the benchmark runs with the production default. */
function withoutTestSpread(env: Record<string, string>): Record<string, string> {
  const { SCHEDULE_SPREAD_S: _spread, ...rest } = env;
  return rest;
}

/** CPU seconds a process has used (Linux /proc; NaN elsewhere). */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

const DOWNTIME_USERS = Number(process.env.SCHEDULES_DOWNTIME_USERS ?? 10_000);
const DOWNTIME_DUE = Number(process.env.SCHEDULES_DOWNTIME_DUE ?? 1000);
const UPLOAD_MS = 200;
const CATCH_UP_CONCURRENCY = 32; // the scheduler's, for the target
const PROCESSING_DELAY_MS = 5000; // the production default (TWITTER_PROCESSING_DELAY_MS), left unset for the bot

/**
 * After downtime: 10,000 records, of which 1,000 came due while the bot was down (a one-shot event that
 * started an hour ago). The bot starts as its own process (pinned away from the servers when it can)
 * with the production wait; X answers uploads in 200 ms, reads and avatar downloads in 50 ms. A user
 * sends /twitter status as soon as the bot is READY. Timed from the spawn: the first answer (`ready_ms`)
 * and the whole catch-up, to the bot's "schedule catch-up done" line (`catchup_s`); uploads are counted
 * at the X server.
 */
async function downtime(): Promise<Record<string, number | string>> {
  const discord = await startDiscordServer();
  const x = await startXServer({ processingDelayMs: PROCESSING_DELAY_MS / 2, uploadLatencyMs: UPLOAD_MS, readLatencyMs: 50, downloadLatencyMs: 50 });
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-downtime-'));
  const key = randomBytes(32);
  const storeUrl = `sqlite://${join(dir, 'bot.sqlite')}`;
  const image = { data: await sharp(readFileSync('test/fixtures/images/sharp/concert.jpg')).resize(400, 400).jpeg({ quality: 70 }).toBuffer(), format: 'jpeg' as const };
  const pinned = canPin() && pinSelf('0');
  let bot: ReturnType<typeof spawn> | undefined;
  try {
    const seedStarted = performance.now();
    const store = await openStore(storeUrl);
    await fastWrites(store, ['tokens', 'library', 'library-images', 'history', 'images', 'schedules']);
    const pieces = { vault: createTokenVault(store, createSecretBox(key)), library: createAvatarLibrary(store), history: createAvatarHistory(store) };
    const schedules = createScheduleStore(store);
    const nowMs = Date.now();
    const dueEvery = Math.floor(DOWNTIME_USERS / DOWNTIME_DUE);
    const dueX = new Set<string>();
    let next = 0;
    await Promise.all(Array.from({ length: SEED_LANES }, async () => {
      for (let i = next++; i < DOWNTIME_USERS; i = next++) {
        const account = x.addUser({ screenName: `d${i}` });
        const user = String(400_000_000_000_000_000n + BigInt(i));
        await seedLinkedUser(pieces, user, { id: account.id, screenName: account.screenName, ...account.accessToken }, image, x.profileImageUrl(account.id), nowMs);
        const due = i % dueEvery === 0 && i / dueEvery < DOWNTIME_DUE;
        if (due) dueX.add(account.id);
        const record = due ? dueWhileDownRecord(i, nowMs) : appliedOrdinaryRecord(i, nowMs, seededRandom(20_260_201 + i)).record;
        await schedules.update(user, () => record);
      }
    }));
    const asker = discord.addMember({ username: 'asker' });
    const askerX = x.addUser({ screenName: 'asker_x' });
    await pieces.vault.save(asker.id, { xUserId: askerX.id, screenName: askerX.screenName, token: askerX.accessToken.token, secret: askerX.accessToken.secret });
    await store.close();
    await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const spawnedAt = performance.now();
    const serversCpuAtSpawn = process.cpuUsage();
    const [command, ...prefix] = pinned ? ['taskset', '-c', '1', process.execPath] : [process.execPath];
    // SCHEDULES_PROFILE=<dir>: the bot writes a V8 CPU profile there (for finding where catch-up time goes).
    const profile = process.env.SCHEDULES_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.SCHEDULES_PROFILE), ...(process.env.SCHEDULES_PRELOAD ? ['--import', process.env.SCHEDULES_PRELOAD] : [])] : [];
    bot = spawn(command!, [...prefix, ...profile, resolve('dist/src/cli.js'), 'start'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      // The production spread (the test environment turns it off): the catch-up of changes due an hour ago is not spread.
      env: { PATH: process.env.PATH, ...withoutTestSpread(localBotEnv(discord, x)), TOKEN_ENCRYPTION_KEY: key.toString('base64'), STORE_URL: storeUrl, LOG_LEVEL: 'info' },
    });
    const seen: { ready?: number; readyLine?: { ready_ms?: number }; done?: number; doneLine?: { catchup_done_ms?: number; users?: number } } = {};
    const problems: string[] = [];
    createInterface({ input: bot.stderr! }).on('line', (line) => {
      if (line.includes('"msg":"bot ready"')) [seen.ready, seen.readyLine] = [performance.now(), JSON.parse(line)];
      else if (line.includes('"msg":"schedule catch-up done"')) [seen.done, seen.doneLine] = [performance.now(), JSON.parse(line)];
      else if (/"level":(40|50|60)/.test(line)) problems.push(line);
    });
    const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
    const deadline = Date.now() + 900_000;
    while (seen.ready === undefined && bot.exitCode === null && Date.now() < deadline) await sleep(5);
    if (seen.ready === undefined) throw new Error(`the bot did not get ready: ${problems.join('\n')}`);
    const status = await discord.slash(asker, { name: 'twitter', subcommand: 'status' });
    const reply = await status.waitForReply(undefined, 60_000);
    const answeredAt = performance.now();
    const dueUploads = () => x.uploads.filter((upload) => dueX.has(upload.userId));
    const uploadsAtAnswer = dueUploads().length;
    while ((seen.done === undefined || dueUploads().length < dueX.size) && bot.exitCode === null && Date.now() < deadline) await sleep(50);
    // Who was busy: this process holds the Discord and X servers (pinned to cpu 0); the bot is pinned to cpu 1.
    const wallS = ((seen.done ?? performance.now()) - spawnedAt) / 1000;
    const serversCpu = process.cpuUsage(serversCpuAtSpawn);
    const serversBusy = (serversCpu.user + serversCpu.system) / 1e6 / wallS;
    const botBusy = bot.pid ? cpuSecondsOf(bot.pid) / wallS : Number.NaN;
    const uploaded = dueUploads();
    const otherUploads = x.uploads.length - uploaded.length;
    const sinceSpawnS = (at: number) => (at - (Date.now() - (performance.now() - spawnedAt))) / 1000;
    const lastUploadS = uploaded.length ? sinceSpawnS(Math.max(...uploaded.map((upload) => upload.at))) : Number.NaN;
    const firstUploadS = uploaded.length ? sinceSpawnS(Math.min(...uploaded.map((upload) => upload.at))) : Number.NaN;
    const figures = {
      downtime_records: DOWNTIME_USERS,
      due_while_down: dueX.size,
      catchup_s: round(((seen.done ?? Number.NaN) - spawnedAt) / 1000, 2),
      ready_ms: round(answeredAt - spawnedAt),
      gateway_ready_ms: round(seen.ready - spawnedAt),
      downtime_processing_delay_ms: PROCESSING_DELAY_MS,
      // The X test server shows the new URL after half the wait; the bot still waits all of it.
      downtime_x_server_processing_ms: PROCESSING_DELAY_MS / 2,
      // CPU seconds per second of the catch-up: near 1 on a pinned core means that side was the bottleneck.
      downtime_servers_cpu_busy: round(serversBusy, 2),
      downtime_bot_cpu_busy: round(botBusy, 2),
    };
    const target = 5 + (DOWNTIME_DUE * UPLOAD_MS) / 1000 / CATCH_UP_CONCURRENCY;
    printTable(`After downtime: ${DOWNTIME_USERS} records, ${dueX.size} came due while down; the bot as its own process (${pinned ? 'servers cpu 0, bot cpu 1' : 'not pinned'}), X wait ${PROCESSING_DELAY_MS} ms (default), upload ${UPLOAD_MS} ms`, ['measure', 'value', 'target'], [
      ['seeding the store (s)', round(seedSeconds, 1), ''],
      ['spawn to "bot ready" (ms); the bot\'s own ready_ms from its process start', `${figures.gateway_ready_ms}; ${seen.readyLine?.ready_ms ?? '?'}`, ''],
      ['spawn to the answer of /twitter status sent at READY (ms)', figures.ready_ms, '<= 3000'],
      ['the answer', reply.content.split('\n')[0] || reply.embeds[0]?.title || '(embed)', ''],
      ['due uploads at X when that answer came', uploadsAtAnswer, `< ${dueX.size}`],
      ['spawn to "schedule catch-up done" (s); the bot\'s catchup_done_ms', `${figures.catchup_s}; ${seen.doneLine?.catchup_done_ms ?? '?'}`, `<= ${round(target, 2)} (5 + ${DOWNTIME_DUE} x ${UPLOAD_MS / 1000} s / ${CATCH_UP_CONCURRENCY})`],
      ['users caught up (the log line)', seen.doneLine?.users ?? '?', DOWNTIME_USERS],
      ['due users uploaded at X / uploads for anyone else', `${new Set(uploaded.map((upload) => upload.userId)).size} / ${otherUploads}`, `${dueX.size} / 0`],
      ['CPU busy, spawn to catch-up done: Discord + X servers (this process) / bot', `${figures.downtime_servers_cpu_busy} / ${figures.downtime_bot_cpu_busy}`, 'near 1: that core was the limit'],
      ['spawn to the first / last due upload at X (s)', `${round(firstUploadS, 2)} / ${round(lastUploadS, 2)}`, `uploads alone: ${round((DOWNTIME_DUE * UPLOAD_MS) / 1000 / CATCH_UP_CONCURRENCY, 2)} s apart`],
    ]);
    if (problems.length) console.log(`bot warnings and errors (${problems.length}), first: ${problems[0]}`);
    return figures;
  } finally {
    if (bot && bot.exitCode === null) {
      bot.kill('SIGTERM');
      await new Promise((done) => bot!.once('exit', done));
    }
    await Promise.all([discord.close(), x.close()]);
    rmSync(dir, { recursive: true, force: true });
    if (pinned) pinSelf(`0-${availableParallelism() - 1}`); // the cases after this one run unpinned
  }
}

const WAVE_USERS = Number(process.env.SCHEDULES_WAVE_USERS ?? 1000);
const WAVE_ZONE = 'Asia/Tokyo';
/** The wave's seconds before midnight once the scheduler has started: its catch-up plans every user first. */
const WAVE_LEAD_MS = 15_000;

/**
 * Issue 12's wave: 1,000 linked users whose season starts at the same local midnight (Tokyo), as
 * `createServices` wires the bot with the production settings (SCHEDULE_SPREAD_S unset: 60 s; the X wait
 * TWITTER_PROCESSING_DELAY_MS 5 s). The scheduler's clock is moved by whole seconds so that midnight comes
 * WAVE_LEAD_MS after its start (node-cron fires on the real clock, shifted by the same amount). Counted at
 * the X server: the most uploads that arrived in any one second after midnight (`wave_max_per_s`) and the
 * seconds from midnight to the last upload (`wave_last_s`); without the spread all come in the first seconds.
 */
async function wave(): Promise<Record<string, number>> {
  const x = await startXServer({ processingDelayMs: PROCESSING_DELAY_MS / 2 });
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-wave-'));
  const key = randomBytes(32);
  const storeUrl = `sqlite://${join(dir, 'bot.sqlite')}`;
  const image = { data: await sharp(readFileSync('test/fixtures/images/sharp/concert.jpg')).resize(400, 400).jpeg({ quality: 70 }).toBuffer(), format: 'jpeg' as const };
  const midnight = zonedTimeToInstant(WAVE_ZONE, { year: 2027, month: 3, day: 1, hour: 0, minute: 0 }).getTime();
  const clock = { offset: 0, now: () => Date.now() + clock.offset };
  try {
    const seedStarted = performance.now();
    const store = await openStore(storeUrl);
    await fastWrites(store, ['tokens', 'library', 'library-images', 'history', 'images', 'schedules']);
    const pieces = { vault: createTokenVault(store, createSecretBox(key)), library: createAvatarLibrary(store), history: createAvatarHistory(store) };
    const schedules = createScheduleStore(store);
    const longAgo = new Date(Date.now() - 30 * DAY_MS).toISOString();
    const accounts = new Set<string>();
    let next = 0;
    await Promise.all(Array.from({ length: SEED_LANES }, async () => {
      for (let i = next++; i < WAVE_USERS; i = next++) {
        const account = x.addUser({ screenName: `wave${i}` });
        accounts.add(account.id);
        const user = String(1_310_000_000_000_000_000n + BigInt(i) * 4_194_304n); // ids a millisecond apart
        await seedLinkedUser(pieces, user, { id: account.id, screenName: account.screenName, ...account.accessToken }, image, x.profileImageUrl(account.id), Date.now());
        await schedules.update(user, () => ({
          timezone: WAVE_ZONE,
          defaultImage: 'a',
          schedules: [{ kind: 'season', id: `w${i}`, createdAt: longAgo, image: 'b', from: '03-01', to: '03-31' }],
          notify: { mode: 'off' },
          applied: { image: 'a', at: longAgo },
          lastRun: { at: longAgo, outcome: 'applied', detail: 'a' },
        }));
      }
    }));
    await store.close();
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    // Production settings: the test environment's SCHEDULE_SPREAD_S=0 and X wait of 0 are taken out.
    const { TWITTER_PROCESSING_DELAY_MS: _wait, ...env } = withoutTestSpread(localServicesEnv(x, dir, { TOKEN_ENCRYPTION_KEY: key.toString('base64'), STORE_URL: storeUrl }));
    const config = parseConfig(env);
    const services = await createServices(config, createLogger({ level: 'silent' }), { clock });
    try {
      clock.offset = Math.round((midnight - WAVE_LEAD_MS - Date.now()) / 1000) * 1000;
      const restored = await services.scheduler.start();
      const leadLeftMs = midnight - clock.now();
      const waveUploads = () => x.uploads.filter((upload) => accounts.has(upload.userId));
      const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
      const deadline = Date.now() + WAVE_LEAD_MS + config.scheduleSpreadS * 1000 + 120_000;
      while (new Set(waveUploads().map((upload) => upload.userId)).size < WAVE_USERS && Date.now() < deadline) await sleep(100);
      const uploads = waveUploads();
      // Seconds after midnight on the scheduler's clock (real + offset).
      const after = uploads.map((upload) => (upload.at + clock.offset - midnight) / 1000);
      const perSecond = new Map<number, number>();
      for (const s of after) perSecond.set(Math.floor(s), (perSecond.get(Math.floor(s)) ?? 0) + 1);
      const figures = {
        wave_users: WAVE_USERS,
        wave_spread_s: config.scheduleSpreadS,
        wave_max_per_s: uploads.length ? Math.max(...perSecond.values()) : -1,
        wave_last_s: uploads.length ? round(Math.max(...after), 2) : -1,
      };
      printTable(`${WAVE_USERS} users whose season starts at the same Tokyo midnight, SCHEDULE_SPREAD_S=${config.scheduleSpreadS} (default), X wait ${config.twitterProcessingDelayMs} ms (default)`, ['measure', 'value', 'target'], [
        ['seeding (s)', round(seedSeconds, 1), ''],
        ['users restored / timers armed at start', `${restored.users} / ${restored.armed}`, `${WAVE_USERS} / ${WAVE_USERS}`],
        ['catch-up done, before midnight (s)', round(leadLeftMs / 1000, 1), '> 0'],
        ['uploads at X / users uploaded', `${uploads.length} / ${new Set(uploads.map((upload) => upload.userId)).size}`, `${WAVE_USERS} / ${WAVE_USERS}`],
        ['first upload after midnight (s)', uploads.length ? round(Math.min(...after), 2) : 'none', '>= 0'],
        ['most uploads in one second (wave_max_per_s)', figures.wave_max_per_s, `about ${Math.ceil(WAVE_USERS / Math.max(1, config.scheduleSpreadS))}`],
        ['last upload after midnight (s, wave_last_s)', figures.wave_last_s, `< ${config.scheduleSpreadS} + upload time`],
        ['seconds with an upload', perSecond.size, config.scheduleSpreadS],
      ]);
      return figures;
    } finally {
      await services.close();
    }
  } finally {
    await x.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const RESTORE_USERS = Number(process.env.SCHEDULES_RESTORE_USERS ?? 100_000);

/**
 * 100,000 schedule records (nothing due, so nothing uploads), restored by the scheduler in this process:
 * the time from start() to every user caught up and planned, and the RSS it adds (baseline after a full GC).
 */
async function restore100k(): Promise<Record<string, number>> {
  const gc = collector();
  const x = await startXServer();
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-restore-'));
  const storeUrl = `sqlite://${join(dir, 'bot.sqlite')}`;
  try {
    const seedStarted = performance.now();
    const store = await openStore(storeUrl);
    await fastWrites(store, ['schedules']);
    const records = store.namespace<ScheduleRecord>('schedules');
    const nowMs = Date.now();
    for (let from = 0; from < RESTORE_USERS; from += 1000) {
      const batch = Array.from({ length: Math.min(1000, RESTORE_USERS - from) }, (_, k) => {
        const i = from + k;
        return { key: String(500_000_000_000_000_000n + BigInt(i)), value: appliedOrdinaryRecord(i, nowMs, seededRandom(20_260_401 + i)).record };
      });
      await records.setMany(batch);
    }
    await store.close();
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const logger = createLogger({ level: 'silent' });
    const services = await createServices(parseConfig(localServicesEnv(x, dir, { STORE_URL: storeUrl })), logger);
    try {
      gc?.();
      gc?.();
      await new Promise((done) => setTimeout(done, 100));
      const baseline = rssMb();
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
      const records = await openStore(storeUrl); // see above
      const scheduler = createScheduler({
        schedules: createScheduleStore(records),
        library: createAvatarLibrary(records),
        avatars: services.avatars,
        coordination: localCoordination(),
        logger,
        notify: async () => false,
        minIntervalMs: 0,
      });
      const started = performance.now();
      const restored = await scheduler.start();
      const seconds = (performance.now() - started) / 1000;
      const after = rssMb();
      clearInterval(sampler);
      await scheduler.stop();
      await records.close();
      const figures = { restore_100k_s: round(seconds, 2), extra_rss_100k_mb: round(after - baseline, 1) };
      printTable(`${RESTORE_USERS} schedule records restored (nothing due), in process`, ['measure', 'value', 'target'], [
        ['seeding (s)', round(seedSeconds, 1), ''],
        ['start() to every user caught up and planned (s)', figures.restore_100k_s, '<= 10'],
        ['users restored / timers armed', `${restored.users} / ${restored.armed}`, `${RESTORE_USERS} / 0`],
        [`extra RSS after (MB${gc ? ', baseline after full GC' : ''})`, figures.extra_rss_100k_mb, '<= 300'],
        ['extra RSS peak during (MB)', round(peak - baseline, 1), ''],
        ['uploads', x.uploads.length, 0],
      ]);
      return figures;
    } finally {
      await services.close();
    }
  } finally {
    await x.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SCHEDULES_CASES=burst,downtime,restore,wave picks the cases (all by default); the JSON holds the figures of those run. */
export async function run(): Promise<void> {
  const cases = (process.env.SCHEDULES_CASES ?? 'burst,downtime,restore,wave').split(',');
  const figures: Record<string, number | string> = {};
  if (cases.includes('burst')) Object.assign(figures, await burst());
  if (cases.includes('downtime')) Object.assign(figures, await downtime());
  if (cases.includes('restore')) Object.assign(figures, await restore100k());
  if (cases.includes('wave')) Object.assign(figures, await wave());
  printFigures(figures);
}
