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
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type Keyv from 'keyv';
import sharp from 'sharp';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { activeImageAt, nextChangeAt, type Schedule } from '../src/schedule/engine.js';
import { createScheduler } from '../src/schedule/scheduler.js';
import { createServices } from '../src/services.js';
import { openStore, type Store } from '../src/store/backend.js';
import { createSecretBox } from '../src/store/cipher.js';
import { createAvatarHistory } from '../src/store/history.js';
import { createAvatarLibrary } from '../src/store/library.js';
import { createScheduleStore, type ScheduleRecord } from '../src/store/schedules.js';
import { createTokenVault } from '../src/store/vault.js';
import { seededRandom } from '../test/support/seeded-random.js';
import { localServicesEnv } from '../test/support/bot-harness.js';
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
function dueRecord(i: number, dueMs: number, nowMs: number): ScheduleRecord {
  const d = new Date(dueMs);
  const every = `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
  const createdAt = new Date(nowMs - DAY_MS).toISOString();
  return { timezone: 'UTC', schedules: [{ kind: 'rotation', id: `s${i}`, createdAt, images: ['a', 'b'], every, order: 'sequence' }], notify: { mode: 'dm' } };
}

/** Seeding only: this store's connections skip fsync and keep the journal in memory (per connection, not persisted). */
async function fastWrites(store: Store, names: string[]): Promise<void> {
  for (const name of names) {
    const adapter = (store.namespace(name) as Keyv & { store: { query(sql: string): Promise<unknown> } }).store;
    await adapter.query('PRAGMA synchronous = OFF');
    await adapter.query('PRAGMA journal_mode = MEMORY');
  }
}

export async function run(): Promise<void> {
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
    await vault.save(user, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    await seedLibrary.add(user, 'a', image);
    await seedLibrary.add(user, 'b', image); // same bytes: content-addressed, stored once
    // Their schedules already applied images, so history holds the original and the applied one.
    const hash = await history.putImage(user, image);
    const url = x.profileImageUrl(account.id);
    await history.saveOriginal(user, { saved: true, hash, format: 'jpeg', savedAt: new Date(nowMs - 30 * DAY_MS).toISOString(), url });
    await history.append(user, { hash, format: 'jpeg', source: 'schedule', label: 'seeded', url400: url });
    if (isDue(i)) {
      dueUsers.push({ discordId: user, xUserId: account.id }); // written once D is known, below
      return;
    }
    let record: ScheduleRecord | undefined;
    for (let attempt = 0; attempt < 6 && !record; attempt++) {
      const candidate = ordinaryRecord(i, attempt, nowMs, random);
      const next = nextChangeAt(candidate, new Date(nowMs));
      if (next === undefined || next.at.getTime() > nowMs + SAFE_MS) record = candidate;
      else redrawn++;
    }
    if (!record) throw new Error(`user ${i}: every candidate schedule changes within ${SAFE_MS / 60_000} minutes`);
    const active = activeImageAt(record, new Date(nowMs)).image;
    const at = new Date(nowMs - Math.floor(random() * 7 * DAY_MS)).toISOString();
    if (active !== undefined) {
      record.applied = { image: active, at };
      record.lastRun = { at, outcome: 'applied', detail: active };
    }
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

    const scheduler = createScheduler({
      schedules: services.schedules,
      library: services.library,
      avatars: services.avatars,
      coordination: services.coordination,
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
    printFigures(figures);
  } finally {
    await services.close();
    await x.close();
    if (process.env.SCHEDULES_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
