/**
 * `npm run bench -- upload`: one update_profile_image round trip against the local X server,
 * ours (oauth-1.0a + undici, multipart) vs twitter-api-v2's v1.updateAccountProfileImage,
 * same server, same image, interleaved (alternating who goes first) so both see the same conditions.
 */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import sharp from 'sharp';
import { TwitterApi } from 'twitter-api-v2';
import { createXClient } from '../src/x/client.js';
import { startXServer } from '../test/support/x-server.js';
import { median, printFigures, printTable, round, time } from './report.js';

const ROUNDS = 200;
const WARMUP = 5;

export async function run(): Promise<void> {
  const server = await startXServer();
  const user = server.addUser({ screenName: 'bench' });
  // A typical avatar: a 400x400 photo at quality 85 (tens of kilobytes).
  const image = await sharp(await readFile('test/fixtures/images/sharp/concert.jpg')).resize(400, 400).jpeg({ quality: 85 }).toBuffer();

  const ours = createXClient({ apiUrl: server.url, consumer: server.consumer, processingDelayMs: 0 });
  const theirs = new TwitterApi(
    { appKey: server.consumer.key, appSecret: server.consumer.secret, accessToken: user.accessToken.token, accessSecret: user.accessToken.secret },
    // It always calls https.request; a keep-alive http.Agent lets it speak plain http to 127.0.0.1, pooled like ours.
    { httpAgent: new Agent({ keepAlive: true }) },
  );
  // twitter-api-v2 has no setting for the API host; point its v1 prefix at the local server.
  (theirs.v1 as unknown as { _prefix: string })._prefix = `${server.url}/1.1/`;
  const tokens = { token: user.accessToken.token, secret: user.accessToken.secret };

  const oursOnce = () => ours.uploadProfileImage(tokens, { data: image, format: 'jpeg' });
  const theirsOnce = () => theirs.v1.updateAccountProfileImage(image);

  for (let i = 0; i < WARMUP; i++) {
    await oursOnce();
    await theirsOnce();
  }
  const oursMs: number[] = [];
  const theirsMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate who goes first, so neither always follows the other's garbage or socket reuse.
    if (i % 2 === 0) {
      oursMs.push((await time(oursOnce)).ms);
      theirsMs.push((await time(theirsOnce)).ms);
    } else {
      theirsMs.push((await time(theirsOnce)).ms);
      oursMs.push((await time(oursOnce)).ms);
    }
  }
  const accepted = server.uploads.length;
  await ours.close();
  await server.close();
  if (accepted !== 2 * (ROUNDS + WARMUP)) throw new Error(`expected every upload to be accepted, got ${accepted}`);

  const oursMedian = median(oursMs);
  const theirsMedian = median(theirsMs);
  printTable(`update_profile_image round trip, ${image.length} B JPEG, ${ROUNDS} rounds each (median)`, ['client', 'median ms', 'min ms', 'max ms'], [
    ['avatar-bot (oauth-1.0a + undici)', round(oursMedian), round(Math.min(...oursMs)), round(Math.max(...oursMs))],
    ['twitter-api-v2 v1.updateAccountProfileImage', round(theirsMedian), round(Math.min(...theirsMs)), round(Math.max(...theirsMs))],
  ]);
  console.log(`ours / twitter-api-v2 = ${round(oursMedian / theirsMedian)} (at most 1 is the target)`);
  printFigures({ ours_ms: round(oursMedian), twitter_api_v2_ms: round(theirsMedian), ratio: round(oursMedian / theirsMedian) });
}
