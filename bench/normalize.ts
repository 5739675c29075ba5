/**
 * `npm run bench -- normalize`: what a user waits for, and what the pipeline's checks cost.
 *
 * 1. One-shot `avatar-bot normalize` (a fresh node process, as the CLI runs) of a generated 12 MP photo
 *    vs `vipsthumbnail -s 400x400 -m attention` on the same file. Target: at most 2x its wall time.
 * 2. In process, warm: normalizeAvatar vs a bare sharp resize+encode of the same image (our checks
 *    may add at most 30%), and vs jimp (ratio reported).
 * 3. Peak RSS of a fresh process normalising a 50 MP photo (target at most 200 MB) and the time to
 *    reject the 20000x14000 decompression bomb (target under 100 ms).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { normalizeAvatar } from '../src/avatar/normalize.js';
import { median, printFigures, printTable, round, time } from './report.js';

const CLI = resolve('dist/src/cli.js');
const BOMB = resolve('test/fixtures/images/sharp/giant-image.jpg');
const ONE_SHOT_RUNS = 9;
const WARM_RUNS = 15;
const JIMP_RUNS = 3;

/** A photo-like JPEG: a real photo scaled up, with sensor-like noise so it does not compress like a blur. */
async function makePhoto(width: number, height: number): Promise<Buffer> {
  const base = await sharp(readFileSync('test/fixtures/images/sharp/flowers.jpeg')).resize(width, height, { fit: 'fill' }).raw().toBuffer();
  const noise = await sharp({ create: { width, height, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 0, sigma: 12 } } }).raw().toBuffer();
  for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i]! + noise[i]! - 6));
  return sharp(base, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * This environment sets NODE_EXTRA_CA_CERTS, which makes every node process parse a CA bundle at start-up
 * (about 70 ms here). normalize makes no TLS connection, so the headline figure runs without it; the
 * table shows the as-is figure too.
 */
const { NODE_EXTRA_CA_CERTS: _, ...envWithoutExtraCerts } = process.env;

function wallMs(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr?.toString().trim()}`);
  return ms;
}

/**
 * Peak RSS of a fresh process, read from its own VmHWM: getrusage's maxRSS would include the parent's
 * RSS at fork time on Linux, which here holds a 50 MP raw image.
 */
function peakRssMb(script: string): number {
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return Number(output.trim().split('\n').at(-1));
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-bench-'));
  try {
    const photo = await makePhoto(4032, 3024);
    const photoPath = join(dir, 'photo-12mp.jpg');
    writeFileSync(photoPath, photo);

    // 1. One-shot processes, alternated so both see the same machine state.
    const ours: number[] = [];
    const oursAsIs: number[] = [];
    const vips: number[] = [];
    const oursArgs = [CLI, 'normalize', photoPath, join(dir, 'ours.jpg')];
    const vipsArgs = [photoPath, '-s', '400x400', '-m', 'attention', '-o', join(dir, 'vips.jpg[Q=85]')];
    wallMs(process.execPath, oursArgs);
    wallMs('vipsthumbnail', vipsArgs);
    for (let i = 0; i < ONE_SHOT_RUNS; i++) {
      ours.push(wallMs(process.execPath, oursArgs, envWithoutExtraCerts));
      vips.push(wallMs('vipsthumbnail', vipsArgs));
      if (process.env.NODE_EXTRA_CA_CERTS) oursAsIs.push(wallMs(process.execPath, oursArgs));
    }

    // 2. In process, warm.
    const bare = () => sharp(photo).resize(400, 400, { fit: 'cover', position: 'attention' }).jpeg({ quality: 85 }).toBuffer();
    const pipeline = () => normalizeAvatar(photo, { crop: 'attention' });
    await bare();
    await pipeline();
    const bareMs: number[] = [];
    const pipelineMs: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      bareMs.push((await time(bare)).ms);
      pipelineMs.push((await time(pipeline)).ms);
    }
    const { Jimp } = await import('jimp');
    const jimpOnce = async () => {
      const image = await Jimp.read(photo);
      image.cover({ w: 400, h: 400 });
      return image.getBuffer('image/jpeg', { quality: 85 });
    };
    await jimpOnce();
    const jimpMs: number[] = [];
    for (let i = 0; i < JIMP_RUNS; i++) jimpMs.push((await time(jimpOnce)).ms);

    // 3. Memory on a 50 MP photo, in a fresh process; the bomb, timed in process (warm).
    const bigPath = join(dir, 'photo-50mp.jpg');
    writeFileSync(bigPath, await makePhoto(8640, 5760));
    const moduleUrl = new URL('../src/avatar/normalize.js', import.meta.url).href;
    const rss50 = peakRssMb(
      `import { readFileSync } from 'node:fs'; const { normalizeAvatar } = await import(${JSON.stringify(moduleUrl)});` +
        `await normalizeAvatar(readFileSync(${JSON.stringify(bigPath)}), { crop: 'attention' });` +
        `const hwm = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));` +
        `console.log((Number(hwm[1]) / 1024).toFixed(1));`,
    );
    const bomb = readFileSync(BOMB);
    const bombMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      bombMs.push(
        (
          await time(async () => {
            const outcome = await normalizeAvatar(bomb).then(
              () => 'accepted',
              (error: { kind?: string }) => error.kind,
            );
            if (outcome !== 'too-many-pixels') throw new Error(`the bomb was not rejected as too-many-pixels: ${outcome}`);
          })
        ).ms,
      );
    }

    const figures = {
      ratio_vs_vipsthumbnail: round(median(ours) / median(vips)),
      overhead_vs_bare_sharp: round(median(pipelineMs) / median(bareMs) - 1),
      ratio_vs_jimp: round(median(pipelineMs) / median(jimpMs), 3),
      rss_50mp_mb: round(rss50, 1),
      bomb_reject_ms: round(median(bombMs)),
    };
    printTable(`12 MP JPEG (${(photo.length / 1e6).toFixed(1)} MB) -> 400x400, one process per run, median of ${ONE_SHOT_RUNS}`, ['tool', 'wall ms'], [
      ['avatar-bot normalize (node dist/src/cli.js)', round(median(ours))],
      ['vipsthumbnail -s 400x400 -m attention', round(median(vips))],
      ['ratio (target <= 2)', figures.ratio_vs_vipsthumbnail],
      ...(oursAsIs.length
        ? [
            ['avatar-bot normalize with NODE_EXTRA_CA_CERTS as set here', round(median(oursAsIs))],
            ['ratio with NODE_EXTRA_CA_CERTS', round(median(oursAsIs) / median(vips))],
          ]
        : []),
    ]);
    printTable(`Same image in process, warm, median`, ['pipeline', 'ms'], [
      ['normalizeAvatar (checks, attention crop, sRGB, alpha test, encode)', round(median(pipelineMs))],
      ['bare sharp resize(400,400,attention) + jpeg', round(median(bareMs))],
      ['overhead (target <= 0.30)', figures.overhead_vs_bare_sharp],
      [`jimp 1.6 read + cover + jpeg (${JIMP_RUNS} runs)`, round(median(jimpMs))],
      ['ours / jimp', figures.ratio_vs_jimp],
    ]);
    printTable('Limits', ['measure', 'value', 'target'], [
      ['peak RSS, fresh process normalising a 50 MP JPEG (MB)', figures.rss_50mp_mb, '<= 200'],
      ['reject 20000x14000 bomb (ms, median of 5)', figures.bomb_reject_ms, '< 100'],
    ]);
    printFigures(figures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
