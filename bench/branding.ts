/**
 * `npm run bench -- branding [concurrency…]`: a team branding push to 500 members against the local
 * X-compatible server, which takes 200 ms to answer each update_profile_image and answers 429 to 10% of
 * first attempts, with the reset 2 s later. Targets: all 500 done, the team image normalised once,
 * the push within 1.25x of ideal, where ideal = members × 200 ms / concurrency.
 *
 * Everything is real and in this process: services from `createServices` on a SQLite store in a temp
 * directory, the consent store and the push runner. What a member costs beyond X's 200 ms is part of
 * the measure: consent and history reads, the result writes, and AvatarChanges' own work, which on a
 * member's first change saves the avatar they had (verify_credentials, a download, a normalisation),
 * then uploads and reads verify_credentials again for the final URL. A rate-limited member repeats the
 * save of the original on its retry (AvatarChanges keeps it only once X accepted the upload).
 * Several concurrencies may be given (`npm run bench -- branding 2 4 8`); each runs on fresh members.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsentStore } from '../src/branding/consent.js';
import { createPushRunner, DEFAULT_BRANDING_CONCURRENCY, describeProgress, type PushProgress } from '../src/branding/push.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createServices, type Services } from '../src/services.js';
import { localServicesEnv } from '../test/support/bot-harness.js';
import { startXServer, X_PATHS } from '../test/support/x-server.js';
import { percentile, printFigures, printTable, round } from './report.js';

const MEMBERS = Number(process.env.BRANDING_MEMBERS ?? 500);
const UPLOAD_MS = 200;
const RESET_MS = 2000;
const RATE_LIMITED_FRACTION = 0.1;

interface Figures {
  members: number;
  done: number;
  failed: number;
  normalisations: number;
  seconds: number;
  ideal_seconds: number;
  concurrency: number;
  ratio: number;
  rate_limited: number;
  original_normalisations: number;
}

/** Where the workers' time goes: X calls, normalisations and store operations, summed over all of them. */
function timeSpent(services: Services): { ms: Record<string, number>; reset(): void } {
  const ms: Record<string, number> = {};
  const timed = <A extends unknown[], R>(name: string | ((...args: A) => string), fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await fn(...args);
      } finally {
        const key = typeof name === 'string' ? name : name(...args);
        ms[key] = (ms[key] ?? 0) + performance.now() - started;
      }
    };
  services.x.updateProfileImage = timed('upload', services.x.updateProfileImage.bind(services.x));
  services.x.verifyCredentials = timed('verify', services.x.verifyCredentials.bind(services.x));
  services.normalizer.normalize = timed('normalise', services.normalizer.normalize.bind(services.normalizer));
  for (const name of ['tokens', 'history', 'images', 'branding-consent', 'branding-results', 'branding-jobs', 'branding-guilds', 'branding-images']) {
    const keyv = services.store.namespace(name);
    keyv.get = timed('read', keyv.get.bind(keyv)) as typeof keyv.get;
    keyv.getMany = timed('read', keyv.getMany.bind(keyv)) as typeof keyv.getMany;
    keyv.set = timed('write', keyv.set.bind(keyv)) as typeof keyv.set;
    keyv.delete = timed('write', keyv.delete.bind(keyv)) as typeof keyv.delete;
  }
  return { ms, reset: () => Object.keys(ms).forEach((key) => delete ms[key]) };
}

async function push(concurrency: number): Promise<Figures> {
  const x = await startXServer({ processingDelayMs: 0, uploadLatencyMs: UPLOAD_MS });
  x.rateLimitFirstAttempts({ fraction: RATE_LIMITED_FRACTION, resetAfterMs: RESET_MS });
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-branding-'));
  const logger = createLogger({ level: 'warn' });
  const services = await createServices(
    parseConfig(localServicesEnv(x, dir, { LOG_LEVEL: 'warn' })),
    logger,
  );
  try {
    const photo = readFileSync('test/fixtures/images/sharp/concert.jpg');
    // Count every normalisation: the team image's (the command's one) and the members' originals (AvatarChanges').
    const counted = { team: 0, others: 0 };
    const normalize = services.normalizer.normalize.bind(services.normalizer);
    services.normalizer.normalize = (input, options) => {
      if (input === photo) counted.team++;
      else counted.others++;
      return normalize(input, options);
    };

    const consent = createConsentStore(services.store);
    const guildId = '900000000000000001';
    const spent = timeSpent(services);
    for (let i = 0; i < MEMBERS; i++) {
      const id = String(800_000_000_000_000_000n + BigInt(i));
      const account = x.addUser({ screenName: `fan${i}` });
      await services.vault.save(id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      await consent.join(guildId, id);
    }

    const avatar = await services.normalizer.normalize(photo);
    spent.reset();
    const runner = createPushRunner({ store: services.store, avatars: services.avatars, consent, coordination: services.coordination, logger, concurrency });
    const progress: string[] = [];
    const started = performance.now();
    const jobId = await runner.start({ guildId, adminId: '900000000000000002', image: { data: avatar.data, format: avatar.format }, label: 'bench' });
    const job = await runner.run(jobId, (p: PushProgress) => progress.push(`${round((performance.now() - started) / 1000, 1)} s: ${describeProgress(p)}`));
    const seconds = (performance.now() - started) / 1000;
    await runner.stop();

    const results = Object.values(job.results);
    const uploads = new Map<string, number>();
    for (const upload of x.uploads) uploads.set(upload.userId, (uploads.get(upload.userId) ?? 0) + 1);
    const requests = (path: string, status?: number) => x.requests.filter((request) => request.path === path && (status === undefined || request.status === status)).length;
    const limited = requests(X_PATHS.updateProfileImage, 429);
    const ideal = (MEMBERS * UPLOAD_MS) / 1000 / concurrency;
    const workerMs = (seconds * 1000 * concurrency) / MEMBERS;
    const share = (name: string) => round((spent.ms[name] ?? 0) / MEMBERS, 1);
    const memberMs = results.map((result) => Date.parse(result.at ?? '')).sort((a, b) => a - b);
    const gaps = memberMs.slice(1).map((at, i) => at - memberMs[i]!);

    printTable(`Team branding push: ${MEMBERS} members, concurrency ${concurrency}, X answers each upload in ${UPLOAD_MS} ms, ${RATE_LIMITED_FRACTION * 100}% of first attempts get 429 (reset ${RESET_MS / 1000} s later)`, ['measure', 'value', 'target'], [
      ['done / failed', `${results.filter((r) => r.status === 'done').length} / ${results.filter((r) => r.status === 'failed').length}`, `${MEMBERS} / 0`],
      ['members uploaded exactly once at X', `${[...uploads.values()].filter((n) => n === 1).length} (max ${Math.max(...uploads.values())} per member)`, String(MEMBERS)],
      ['team image normalisations', counted.team, 1],
      ["members' originals normalised (AvatarChanges saving the avatar from before)", counted.others, ''],
      ['answered 429, then retried after the reset', limited, ''],
      ['X requests: upload POSTs / verify_credentials / image downloads', `${requests(X_PATHS.updateProfileImage)} / ${requests(X_PATHS.verifyCredentials)} / ${x.requests.filter((r) => r.path.startsWith('/profile_images/')).length}`, ''],
      ['wall time (s)', round(seconds), `<= ${round(ideal * 1.25)}`],
      ['ideal: members x 0.2 s / concurrency (s)', round(ideal), ''],
      ['ideal + one 2 s reset tail (s)', round(ideal + RESET_MS / 1000), ''],
      ['wall / ideal', round(seconds / ideal), '<= 1.25'],
      ['worker time per member (ms): wall x concurrency / members', round(workerMs), `${UPLOAD_MS} at X`],
      ['  of which X upload (POST, 200 ms at X, + verify_credentials for the final URL)', share('upload'), ''],
      ['  of which verify_credentials before the first change (AvatarChanges)', share('verify'), ''],
      ["  of which normalising the member's original (AvatarChanges)", share('normalise'), ''],
      ['  of which store writes (history, images, results, consent)', share('write'), ''],
      ['  of which store reads', share('read'), ''],
      ['  of which the rest (original download, waiting for resets at the end, idle workers)', round(workerMs - ['upload', 'verify', 'normalise', 'write', 'read'].reduce((sum, name) => sum + share(name), 0), 1), ''],
      ['gap between finished members (ms), p50 / p99', `${round(percentile(gaps, 50))} / ${round(percentile(gaps, 99))}`, ''],
    ]);
    console.log(`progress reports: ${progress.length}; ${progress.slice(0, 3).join(' | ')} … ${progress.at(-1)}`);
    return {
      members: MEMBERS,
      done: results.filter((r) => r.status === 'done').length,
      failed: results.filter((r) => r.status === 'failed').length,
      normalisations: counted.team,
      seconds: round(seconds),
      ideal_seconds: round(ideal),
      concurrency,
      ratio: round(seconds / ideal),
      rate_limited: limited,
      original_normalisations: counted.others,
    };
  } finally {
    await services.close();
    await x.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const concurrencies = args.length ? args.map(Number) : [DEFAULT_BRANDING_CONCURRENCY];
  const figures: Figures[] = [];
  for (const concurrency of concurrencies) figures.push(await push(concurrency));
  if (figures.length > 1) {
    printTable('Concurrency sweep', ['concurrency', 'seconds', 'ideal', 'ratio', 'done'], figures.map((f) => [f.concurrency, f.seconds, f.ideal_seconds, f.ratio, f.done]));
  }
  const { members, done, failed, normalisations, seconds, ideal_seconds, ...rest } = figures.at(-1)!;
  printFigures({ members, done, failed, normalisations, seconds, ideal_seconds, ...rest });
}
