/**
 * `npm run bench -- load`: 100 users run /avatar set at once, each with a different photo, against the
 * local Discord- and X-compatible servers. The bot runs as its own process (`avatar-bot start`) so its
 * memory is measured alone; the servers run in this process, pinned to CPU 0 and the bot to CPU 1 when
 * taskset is there. Production settings: X's processing wait is the default 5000 ms, X answers uploads
 * in 200 ms, profile reads and avatar downloads in 50 ms. `ready_ms` is from spawning the bot to its
 * "bot ready" line. Targets: all succeed, RSS under 400 MB, every interaction deferred within 100 ms.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { commands } from '../commands/index.js';
import { registerCommands } from '../src/bot/register.js';
import { openStore } from '../src/store/backend.js';
import { createSecretBox } from '../src/store/cipher.js';
import { createTokenVault } from '../src/accounts/vault.js';
import { localBotEnv } from '../test/support/bot-harness.js';
import { startDiscordServer, type Interaction } from '../test/support/discord-server.js';
import { startXServer } from '../test/support/x-server.js';
import { canPin, pinSelf } from '../test/support/x-server-process.js';
import { percentile, printFigures, printTable, round } from './report.js';

const USERS = Number(process.env.LOAD_USERS ?? 100);
const PROCESSING_DELAY_MS = 5000; // the production default (TWITTER_PROCESSING_DELAY_MS)

/** Distinct 3 MP phone-like photos: one noisy base, a different hue and crop offset per user. */
async function photos(count: number): Promise<Buffer[]> {
  const base = await sharp(readFileSync('test/fixtures/images/sharp/concert.jpg')).resize(2048, 1536, { fit: 'fill' }).toBuffer();
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp(base)
        .modulate({ hue: (i * 37) % 360, brightness: 0.8 + (i % 5) / 10 })
        .jpeg({ quality: 88 })
        .toBuffer(),
    ),
  );
}

function statusOf(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

export async function run(): Promise<void> {
  const discord = await startDiscordServer({ interactionTimeoutMs: 3000 });
  // X shows the new URL before the bot's wait ends, so the read after the wait finds it.
  const x = await startXServer({ processingDelayMs: PROCESSING_DELAY_MS / 2, uploadLatencyMs: 200, readLatencyMs: 50, downloadLatencyMs: 50 });
  const pinned = process.env.LOAD_PIN !== '0' && canPin() && pinSelf('0');
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-load-'));
  const key = randomBytes(32);
  const storeUrl = `sqlite://${join(dir, 'bot.sqlite')}`;

  // Link every user before the bot starts (the bot owns the SQLite file once it runs).
  const store = await openStore(storeUrl);
  const vault = createTokenVault(store, createSecretBox(key));
  const members = [];
  for (let i = 0; i < USERS; i++) {
    const member = discord.addMember({ username: `user${i}` });
    const account = x.addUser({ screenName: `user${i}` });
    await vault.save(member.id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    members.push(member);
  }
  await store.close();
  await registerCommands({ apiUrl: discord.apiUrl, token: discord.botToken, applicationId: discord.applicationId, commands });
  const images = await photos(USERS);

  const spawnedAt = performance.now();
  const [command, ...prefix] = pinned ? ['taskset', '-c', '1', process.execPath] : [process.execPath];
  // LOAD_PROFILE=<dir>: the bot writes a V8 CPU profile there (where acknowledgement time goes).
  const profile = process.env.LOAD_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.LOAD_PROFILE)] : [];
  const bot = spawn(command!, [...prefix, ...profile, resolve('dist/src/cli.js'), 'start'], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'pipe'],
    env: {
      PATH: process.env.PATH,
      ...localBotEnv(discord, x),
      TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_DELAY_MS),
      TOKEN_ENCRYPTION_KEY: key.toString('base64'),
      STORE_URL: storeUrl,
      LOG_LEVEL: 'info',
    },
  });
  // The log: "bot ready" (with the bot's own ready_ms) and warnings or worse are kept; the rest is dropped.
  let readyAt: number | undefined;
  let botReadyMs: number | undefined;
  const problems: string[] = [];
  createInterface({ input: bot.stderr! }).on('line', (line) => {
    if (line.includes('"msg":"bot ready"')) {
      readyAt = performance.now();
      botReadyMs = (JSON.parse(line) as { ready_ms?: number }).ready_ms;
    } else if (/"level":(40|50|60)/.test(line)) problems.push(line);
  });
  let peakRss = 0;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, statusOf(bot.pid!).rss);
    } catch {
      // the process is gone
    }
  }, 50);

  try {
    await discord.waitForBot({ timeoutMs: 30_000 });
    while (readyAt === undefined && bot.exitCode === null) await new Promise((done) => setTimeout(done, 10));
    const readyMs = (readyAt ?? Number.NaN) - spawnedAt;
    const baselineRss = statusOf(bot.pid!).rss;
    const started = performance.now();
    const interactions: Interaction[] = await Promise.all(
      members.map((member, i) => discord.slash(member, { name: 'avatar', subcommand: 'set', options: { image: { attachment: { filename: `photo-${i}.jpg`, bytes: images[i]! } } } })),
    );
    // Poll instead of registering 100 waiters with the server: its waiters re-run on every event, which
    // would load this process (and so the timestamps it records) while the bot is acknowledging.
    const finished = (interaction: Interaction) => {
      const message = interaction.original;
      return message !== undefined && (message.embeds.length > 0 || message.content.length > 0);
    };
    const deadline = Date.now() + 120_000;
    while (!interactions.every(finished) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
    const replies = interactions.map((interaction) => (finished(interaction) ? interaction.original : undefined));
    const wallSeconds = (performance.now() - started) / 1000;
    const succeeded = replies.filter((reply) => reply?.embeds[0]?.title === 'Avatar updated').length;
    const failures = replies.filter((reply) => reply?.embeds[0]?.title !== 'Avatar updated').map((reply) => reply?.content ?? 'no reply');
    const acks = interactions.map((interaction) => interaction.ackMs ?? Number.POSITIVE_INFINITY);
    const totals = interactions.map((interaction) => {
      const edits = discord.calls.filter((call) => call.method === 'PATCH' && call.path.includes(`/${interaction.token}/messages/`));
      return (edits.at(-1)?.receivedAt ?? Number.POSITIVE_INFINITY) - interaction.sentAt;
    });
    const hwm = statusOf(bot.pid!).hwm;
    const firstSent = Math.min(...interactions.map((i) => i.sentAt));
    const sentSpread = Math.max(...interactions.map((i) => i.sentAt)) - firstSent;
    const ackAt = interactions.map((i) => i.sentAt + (i.ackMs ?? 0) - firstSent);
    console.log(`dispatch spread ${round(sentSpread)} ms; acks arrive from ${round(Math.min(...ackAt))} to ${round(Math.max(...ackAt))} ms after the first dispatch; min ack ${round(Math.min(...acks))}`);
    const uploadsOk = x.uploads.length === USERS && new Set(x.uploads.map((upload) => upload.userId)).size === USERS;

    const figures = {
      users: USERS,
      succeeded,
      rss_mb: round(Math.max(peakRss, hwm), 1),
      ack_p50_ms: round(percentile(acks, 50)),
      ack_p99_ms: round(percentile(acks, 99)),
      total_p50_ms: round(percentile(totals, 50)),
      total_p99_ms: round(percentile(totals, 99)),
      processing_delay_ms: PROCESSING_DELAY_MS,
      // The X test server shows the new URL after half the wait; the bot still waits all of it.
      x_server_processing_ms: PROCESSING_DELAY_MS / 2,
      ready_ms: round(readyMs),
      pinned: pinned ? 'servers cpu 0, bot cpu 1' : 'no',
    };
    printTable(`${USERS} users run /avatar set at once (3 MP JPEGs; the bot waits X's ${PROCESSING_DELAY_MS} ms processing, the default; ${figures.pinned === 'no' ? 'not pinned' : `pinned: ${figures.pinned}`})`, ['measure', 'value', 'target'], [
      ['spawn to "bot ready" (ms); the bot\'s own ready_ms from its start', `${figures.ready_ms}; ${botReadyMs ?? 'not logged'}`, ''],
      ['succeeded', `${succeeded}/${USERS}`, `${USERS}/${USERS}`],
      ['X received one valid upload per user', uploadsOk ? 'yes' : 'no', 'yes'],
      ['bot RSS before the burst (MB)', round(baselineRss, 1), ''],
      ['bot peak RSS (MB)', figures.rss_mb, '< 400'],
      ['deferred within (ms), p50 / p99 / max', `${figures.ack_p50_ms} / ${figures.ack_p99_ms} / ${round(Math.max(...acks))}`, '< 100'],
      ['final reply after (ms), p50 / p99', `${figures.total_p50_ms} / ${figures.total_p99_ms}`, ''],
      ['whole burst (s)', round(wallSeconds), ''],
    ]);
    if (failures.length) console.log(`failures: ${[...new Set(failures)].join(' | ')}`);
    if (problems.length) console.log(`bot warnings and errors (${problems.length}), first: ${problems[0]}`);
    printFigures(figures);
  } finally {
    clearInterval(sampler);
    bot.kill('SIGTERM');
    await new Promise((done) => bot.once('exit', done));
    await Promise.all([discord.close(), x.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
