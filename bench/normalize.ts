/**
 * `npm run bench -- normalize`: what a user waits for, and what the pipeline's checks cost.
 *
 * 1. One-shot `avatar-bot normalize` (a fresh node process, as the CLI runs) of a generated 12 MP photo
 *    vs `vipsthumbnail -s 400x400 -m attention` on the same file. Target: at most 2x its wall time.
 * 2. In process, warm: normalizeAvatar vs a bare sharp resize+encode of the same image (our checks
 *    may add at most 30%), and vs jimp (ratio reported).
 * 3. Peak RSS of a fresh process normalising a 50 MP photo (target at most 200 MB) and the time to
 *    reject the 20000x14000 decompression bomb (target under 100 ms).
 * 4. Peak RSS of the worst formats, each in a fresh process: a 50 MP PNG with alpha, a 50 MP WebP, a
 *    200-frame animated GIF, and two 50 MP JPEGs normalised at once (IMAGE_CONCURRENCY is 2 by default).
 *
 * The one-shot ratio is reported both with the environment as given (`ratio_vs_vipsthumbnail`) and with
 * NODE_EXTRA_CA_CERTS removed for our side (`ratio_vs_vipsthumbnail_no_extra_ca`), next to a baseline of
 * what any node process importing sharp costs here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { MAX_INPUT_BYTES, normalizeAvatar } from '../src/avatar/normalize.js';
import { seededRandom } from '../test/support/seeded-random.js';
import { median, printFigures, printTable, round, time } from './report.js';

export const CLI = resolve('dist/src/cli.js');
const BOMB = resolve('test/fixtures/images/sharp/giant-image.jpg');
const ONE_SHOT_RUNS = 9;
const WARM_RUNS = 15;
const JIMP_RUNS = 3;

/**
 * A photo-like JPEG: a real photo scaled up, with sensor-like noise so it does not compress like a blur.
 * The noise is seeded (triangular, sigma 7: what clipping a gaussian of sigma 12 at 0 left), so every run gets the same bytes.
 */
export async function makePhoto(width: number, height: number): Promise<Buffer> {
  const base = await sharp(readFileSync('test/fixtures/images/sharp/flowers.jpeg')).resize(width, height, { fit: 'fill' }).raw().toBuffer();
  const random = seededRandom(width * 65536 + height);
  for (let i = 0; i < base.length; i++) {
    const bits = random() * 4294967296; // two 16-bit uniforms from one draw: their sum is triangular
    const noise = (((bits & 0xffff) + (bits >>> 16)) / 65536 - 1) * 17;
    base[i] = Math.max(0, Math.min(255, Math.round(base[i]! + noise)));
  }
  return sharp(base, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * Some environments set NODE_EXTRA_CA_CERTS, which makes every node process parse a CA bundle at start-up
 * (about 70 ms here). normalize makes no TLS connection; both figures are reported.
 */
const { NODE_EXTRA_CA_CERTS: _, ...envWithoutExtraCerts } = process.env;

/** Fails with what to install when vipsthumbnail (the reference the one-shot runs are compared with) is missing. */
export function requireVipsthumbnail(): void {
  const probe = spawnSync('vipsthumbnail', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    throw new Error('vipsthumbnail is not installed: the benchmark compares against it (Debian/Ubuntu: apt-get install -y libvips-tools)');
  }
}

export interface OneShotTimes {
  ours: number[];
  /** Ours with NODE_EXTRA_CA_CERTS removed (the same as `ours` when it is not set). */
  oursNoExtraCa: number[];
  vips: number[];
  /** Baseline: a node process that only imports sharp. */
  nodeSharp: number[];
}

/** Wall times of one-shot runs of our CLI and of vipsthumbnail, alternated so both see the same machine state. */
export function oneShotTimes(oursArgs: string[], vipsArgs: string[], runs: number): OneShotTimes {
  requireVipsthumbnail();
  const times: OneShotTimes = { ours: [], oursNoExtraCa: [], vips: [], nodeSharp: [] };
  const nodeSharpArgs = ['--input-type=module', '-e', "await import('sharp')"];
  wallMs(process.execPath, oursArgs);
  wallMs('vipsthumbnail', vipsArgs);
  for (let i = 0; i < runs; i++) {
    times.ours.push(wallMs(process.execPath, oursArgs));
    times.vips.push(wallMs('vipsthumbnail', vipsArgs));
    times.nodeSharp.push(wallMs(process.execPath, nodeSharpArgs));
    if (process.env.NODE_EXTRA_CA_CERTS) times.oursNoExtraCa.push(wallMs(process.execPath, oursArgs, envWithoutExtraCerts));
  }
  if (!times.oursNoExtraCa.length) times.oursNoExtraCa.push(...times.ours); // not set here: the same measurement
  return times;
}

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

/** Peak RSS of a fresh process running normalizeAvatar on each file at once (the import included). */
function normaliseRssMb(paths: string[]): number {
  const moduleUrl = new URL('../src/avatar/normalize.js', import.meta.url).href;
  return peakRssMb(
    `import { readFileSync } from 'node:fs'; const { normalizeAvatar } = await import(${JSON.stringify(moduleUrl)});` +
      `await Promise.all(${JSON.stringify(paths)}.map((path) => normalizeAvatar(readFileSync(path), { crop: 'attention' })));` +
      `const hwm = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));` +
      `console.log((Number(hwm[1]) / 1024).toFixed(1));`,
  );
}

/** A 50 MP RGBA PNG: colour gradients with an alpha ramp (smooth, so it stays under the 25 MB input limit). */
async function makeAlphaPng(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      raw[i] = (x >> 6) & 255;
      raw[i + 1] = (y >> 6) & 255;
      raw[i + 2] = ((x + y) >> 7) & 255;
      raw[i + 3] = Math.floor((x / width) * 255);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer();
}

/** An animated GIF: `frames` frames of a photo, each shifted in hue. */
async function makeAnimatedGif(size: number, frames: number): Promise<Buffer> {
  const base = await sharp(readFileSync('test/fixtures/images/sharp/flowers.jpeg')).resize(size, size, { fit: 'cover' }).toBuffer();
  const pages = await Promise.all(Array.from({ length: frames }, (_, i) => sharp(base).modulate({ hue: (i * 7) % 360 }).raw().toBuffer()));
  return sharp(Buffer.concat(pages), { raw: { width: size, height: size * frames, channels: 3, pageHeight: size } }).gif({ delay: Array(frames).fill(100) }).toBuffer();
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-bench-'));
  try {
    const photo = await makePhoto(4032, 3024);
    const photoPath = join(dir, 'photo-12mp.jpg');
    writeFileSync(photoPath, photo);

    // 1. One-shot processes, alternated so both see the same machine state.
    const oursArgs = [CLI, 'normalize', photoPath, join(dir, 'ours.jpg')];
    const vipsArgs = [photoPath, '-s', '400x400', '-m', 'attention', '-o', join(dir, 'vips.jpg[Q=85]')];
    const { ours, oursNoExtraCa, vips, nodeSharp } = oneShotTimes(oursArgs, vipsArgs, ONE_SHOT_RUNS);

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

    // 4. The worst formats for memory, each in a fresh process.
    const pngPath = join(dir, 'alpha-50mp.png');
    writeFileSync(pngPath, await makeAlphaPng(8660, 5773));
    const webpPath = join(dir, 'photo-50mp.webp');
    writeFileSync(webpPath, await sharp(readFileSync(bigPath)).webp({ quality: 75 }).toBuffer());
    const gifPath = join(dir, 'animated-200.gif');
    writeFileSync(gifPath, await makeAnimatedGif(480, 200));
    const secondBigPath = join(dir, 'photo-50mp-2.jpg');
    writeFileSync(secondBigPath, await sharp(readFileSync(bigPath)).modulate({ hue: 90 }).jpeg({ quality: 90 }).toBuffer());
    for (const path of [pngPath, webpPath, gifPath, secondBigPath]) {
      if (readFileSync(path).length > MAX_INPUT_BYTES) throw new Error(`${path} is over the input limit, so it would measure a refusal`);
    }
    const worst = {
      png: normaliseRssMb([pngPath]),
      webp: normaliseRssMb([webpPath]),
      gif: normaliseRssMb([gifPath]),
      two: normaliseRssMb([bigPath, secondBigPath]),
    };
    const sizeMb = (path: string) => round(readFileSync(path).length / 1e6, 1);

    const figures = {
      ratio_vs_vipsthumbnail: round(median(ours) / median(vips)),
      ratio_vs_vipsthumbnail_no_extra_ca: round(median(oursNoExtraCa) / median(vips)),
      node_import_sharp_ms: round(median(nodeSharp)),
      extra_ca_set: Boolean(process.env.NODE_EXTRA_CA_CERTS),
      overhead_vs_bare_sharp: round(median(pipelineMs) / median(bareMs) - 1),
      ratio_vs_jimp: round(median(pipelineMs) / median(jimpMs), 3),
      rss_50mp_mb: round(rss50, 1),
      bomb_reject_ms: round(median(bombMs)),
      rss_worst_mb: round(Math.max(worst.png, worst.webp, worst.gif, worst.two), 1),
      rss_png_alpha_50mp_mb: round(worst.png, 1),
      rss_webp_50mp_mb: round(worst.webp, 1),
      rss_gif_200_frames_mb: round(worst.gif, 1),
      rss_two_50mp_at_once_mb: round(worst.two, 1),
    };
    printTable(`12 MP JPEG (${(photo.length / 1e6).toFixed(1)} MB) -> 400x400, one process per run, median of ${ONE_SHOT_RUNS}`, ['tool', 'wall ms'], [
      [`avatar-bot normalize (node dist/src/cli.js), environment as given${process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS set)' : ''}`, round(median(ours))],
      ['avatar-bot normalize without NODE_EXTRA_CA_CERTS', round(median(oursNoExtraCa))],
      ['baseline: node --input-type=module -e "await import(\'sharp\')", as given', figures.node_import_sharp_ms],
      ['vipsthumbnail -s 400x400 -m attention', round(median(vips))],
      ['ratio, as given (target <= 2)', figures.ratio_vs_vipsthumbnail],
      ['ratio without NODE_EXTRA_CA_CERTS', figures.ratio_vs_vipsthumbnail_no_extra_ca],
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
      [`peak RSS, 50 MP PNG with alpha (${sizeMb(pngPath)} MB) (MB)`, figures.rss_png_alpha_50mp_mb, ''],
      [`peak RSS, 50 MP WebP (${sizeMb(webpPath)} MB) (MB)`, figures.rss_webp_50mp_mb, ''],
      [`peak RSS, 200-frame 480x480 animated GIF (${sizeMb(gifPath)} MB) (MB)`, figures.rss_gif_200_frames_mb, ''],
      ['peak RSS, two 50 MP JPEGs normalised at once (MB)', figures.rss_two_50mp_at_once_mb, ''],
      ['worst of these (MB)', figures.rss_worst_mb, ''],
    ]);
    printFigures(figures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
