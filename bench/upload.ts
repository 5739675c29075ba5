/**
 * `npm run bench -- upload`: one update_profile_image round trip, ours (oauth-1.0a + undici, multipart,
 * `uploadProfileImage`) vs twitter-api-v2's v1.updateAccountProfileImage, same image, interleaved
 * (alternating who goes first) and paired by round.
 *
 * The X server runs in its own process, pinned to CPU 0 when taskset is there, and this process (the
 * clients) to CPU 1: in one process, the server's signature check and image decode were about 80% of
 * what was timed, and hid the clients' difference. Per request: wall time, and this process's CPU
 * (`process.cpuUsage`), which is the client's alone. Ratios are of medians; their 95% intervals come
 * from a seeded bootstrap over the rounds (pairs resampled together). The full `updateProfileImage`
 * path (upload, then verify_credentials for the new URL) is timed too, with its processing wait at 0.
 * The v2 path (X_PROFILE_API=v2: POST /2/media/upload, then PUT /2/users/me/profile_image) is timed in the
 * same rounds, by the same method, its place in each round rotating with the other two.
 */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import sharp from 'sharp';
import { TwitterApi } from 'twitter-api-v2';
import { createXClient } from '../src/x/client.js';
import { createProfileApiMode, memoryRecord } from '../src/x/profile-api.js';
import { seededRandom } from '../test/support/seeded-random.js';
import { pinSelf, spawnXServer } from '../test/support/x-server-process.js';
import { median, percentile, printFigures, printTable, round } from './report.js';

const ROUNDS = Number(process.env.UPLOAD_ROUNDS ?? 300);
const WARMUP = 20;
const FULL_PATH_ROUNDS = 50;
const BOOTSTRAP = 2000;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** 95% interval of median(ours) / median(theirs), resampling rounds (pairs stay together). */
function bootstrapRatio(ours: number[], theirs: number[], random: () => number): [number, number] {
  const ratios: number[] = [];
  const n = ours.length;
  const a = new Array<number>(n);
  const b = new Array<number>(n);
  for (let r = 0; r < BOOTSTRAP; r++) {
    for (let i = 0; i < n; i++) {
      const k = Math.floor(random() * n);
      a[i] = ours[k]!;
      b[i] = theirs[k]!;
    }
    ratios.push(median(a) / median(b));
  }
  return [round(percentile(ratios, 2.5), 3), round(percentile(ratios, 97.5), 3)];
}

/** 95% interval of the mean paired difference (ours - theirs). */
function bootstrapDifference(ours: number[], theirs: number[], random: () => number): [number, number] {
  const diffs = ours.map((value, i) => value - theirs[i]!);
  const means: number[] = [];
  for (let r = 0; r < BOOTSTRAP; r++) {
    let sum = 0;
    for (let i = 0; i < diffs.length; i++) sum += diffs[Math.floor(random() * diffs.length)]!;
    means.push(sum / diffs.length);
  }
  return [round(percentile(means, 2.5), 3), round(percentile(means, 97.5), 3)];
}

export async function run(): Promise<void> {
  const server = await spawnXServer({}, { cpus: '0' });
  const pinned = server.cpus !== 'any' && pinSelf('1');
  try {
    const [user] = await server.addUsers(1, 'bench');
    // A typical avatar: a 400x400 photo at quality 85 (tens of kilobytes).
    const image = await sharp(await readFile('test/fixtures/images/sharp/concert.jpg')).resize(400, 400).jpeg({ quality: 85 }).toBuffer();
    const tokens = { token: user!.token, secret: user!.secret };

    const ours = createXClient({ apiUrl: server.url, consumer: server.consumer, processingDelayMs: 0 });
    const oursV2 = createXClient({ apiUrl: server.url, consumer: server.consumer, processingDelayMs: 0, profileApi: createProfileApiMode({ setting: 'v2', record: memoryRecord() }) });
    const theirs = new TwitterApi(
      { appKey: server.consumer.key, appSecret: server.consumer.secret, accessToken: tokens.token, accessSecret: tokens.secret },
      // It always calls https.request; a keep-alive http.Agent lets it speak plain http to 127.0.0.1, pooled like ours.
      { httpAgent: new Agent({ keepAlive: true }) },
    );
    // twitter-api-v2 has no setting for the API host; point its v1 prefix at the local server.
    (theirs.v1 as unknown as { _prefix: string })._prefix = `${server.url}/1.1/`;

    const oursOnce = () => ours.uploadProfileImage(tokens, { data: image, format: 'jpeg' });
    const theirsOnce = () => theirs.v1.updateAccountProfileImage(image);
    const v2Once = () => oursV2.uploadProfileImage(tokens, { data: image, format: 'jpeg' });
    for (let i = 0; i < WARMUP; i++) {
      await oursOnce();
      await theirsOnce();
      await v2Once();
    }
    const oursS: Sample[] = [];
    const theirsS: Sample[] = [];
    const v2S: Sample[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate who goes first, so neither always follows the other's garbage or socket reuse; the v2 path
      // takes each place in turn (first, between, last).
      const order: Array<[() => Promise<unknown>, Sample[]]> = i % 2 === 0 ? [[oursOnce, oursS], [theirsOnce, theirsS]] : [[theirsOnce, theirsS], [oursOnce, oursS]];
      order.splice(i % 3, 0, [v2Once, v2S]);
      for (const [once, samples] of order) samples.push(await measure(once));
    }
    // The whole use-case step: upload, then read the new URL (X's processing wait set to 0 here).
    const full: Sample[] = [];
    for (let i = 0; i < FULL_PATH_ROUNDS; i++) full.push(await measure(() => ours.updateProfileImage(tokens, { data: image, format: 'jpeg' })));
    const stats = await server.stats();
    await ours.close();
    await oursV2.close();
    const expected = 3 * (ROUNDS + WARMUP) + FULL_PATH_ROUNDS;
    if (stats.uploads !== expected) throw new Error(`expected ${expected} accepted uploads, got ${stats.uploads}`);

    const wall = (samples: Sample[]) => samples.map((s) => s.wallMs);
    const cpu = (samples: Sample[]) => samples.map((s) => s.cpuMs);
    const random = seededRandom(20_260_301);
    const figures = {
      ours_ms: round(median(wall(oursS))),
      twitter_api_v2_ms: round(median(wall(theirsS))),
      ratio: round(median(wall(oursS)) / median(wall(theirsS)), 3),
      ours_cpu_ms: round(median(cpu(oursS)), 3),
      twitter_api_v2_cpu_ms: round(median(cpu(theirsS)), 3),
      cpu_ratio: round(median(cpu(oursS)) / median(cpu(theirsS)), 3),
      ratio_ci95: bootstrapRatio(wall(oursS), wall(theirsS), random),
      cpu_ratio_ci95: bootstrapRatio(cpu(oursS), cpu(theirsS), random),
      v2_ms: round(median(wall(v2S))),
      v2_cpu_ms: round(median(cpu(v2S)), 3),
      full_path_ms: round(median(wall(full))),
      full_path_processing_delay_ms: 0,
      rounds: ROUNDS,
      pinned: pinned ? 'server cpu 0, client cpu 1' : 'no (taskset missing or refused)',
    };
    const wallDiff = bootstrapDifference(wall(oursS), wall(theirsS), random);
    const cpuDiff = bootstrapDifference(cpu(oursS), cpu(theirsS), random);
    printTable(
      `profile image round trip (v1.1 update_profile_image; v2 media upload + PUT), ${image.length} B JPEG, ${ROUNDS} paired rounds; X server in its own process (${figures.pinned})`,
      ['client', 'wall ms median', 'p10 / p90', 'client CPU ms median', 'p10 / p90'],
      [
        ['avatar-bot uploadProfileImage (oauth-1.0a + undici)', figures.ours_ms, `${round(percentile(wall(oursS), 10))} / ${round(percentile(wall(oursS), 90))}`, figures.ours_cpu_ms, `${round(percentile(cpu(oursS), 10), 3)} / ${round(percentile(cpu(oursS), 90), 3)}`],
        ['twitter-api-v2 v1.updateAccountProfileImage', figures.twitter_api_v2_ms, `${round(percentile(wall(theirsS), 10))} / ${round(percentile(wall(theirsS), 90))}`, figures.twitter_api_v2_cpu_ms, `${round(percentile(cpu(theirsS), 10), 3)} / ${round(percentile(cpu(theirsS), 90), 3)}`],
        ['avatar-bot uploadProfileImage, X_PROFILE_API=v2 (media upload + PUT)', figures.v2_ms, `${round(percentile(wall(v2S), 10))} / ${round(percentile(wall(v2S), 90))}`, figures.v2_cpu_ms, `${round(percentile(cpu(v2S), 10), 3)} / ${round(percentile(cpu(v2S), 90), 3)}`],
        ['avatar-bot updateProfileImage (upload + verify_credentials, wait 0)', figures.full_path_ms, `${round(percentile(wall(full), 10))} / ${round(percentile(wall(full), 90))}`, round(median(cpu(full)), 3), ''],
      ],
    );
    printTable('Ours vs twitter-api-v2', ['measure', 'value', '95% interval (bootstrap)', 'target'], [
      ['wall ratio (medians)', figures.ratio, figures.ratio_ci95.join(' .. '), '<= 1.0'],
      ['client CPU ratio (medians)', figures.cpu_ratio, figures.cpu_ratio_ci95.join(' .. '), '<= 0.9'],
      ['mean paired wall difference, ours - theirs (ms)', round(wall(oursS).reduce((s, v, i) => s + v - wall(theirsS)[i]!, 0) / ROUNDS, 3), wallDiff.join(' .. '), ''],
      ['mean paired CPU difference, ours - theirs (ms)', round(cpu(oursS).reduce((s, v, i) => s + v - cpu(theirsS)[i]!, 0) / ROUNDS, 3), cpuDiff.join(' .. '), ''],
      ['X server CPU per upload (ms, its own process)', round(stats.cpuMs / expected, 3), '', ''],
    ]);
    printFigures(figures);
  } finally {
    await server.close();
  }
}
