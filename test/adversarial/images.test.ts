/**
 * Hostile images that a header check does not see, each run through the real `avatar-bot normalize`
 * (dist/src/cli.js) in a child process that reports its own CPU time and peak RSS: every one is either
 * normalised or refused with a sentence, within 3 s of CPU and 300 MB.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLimiter, type ImageErrorKind, MAX_DECODE_BYTES } from '../../src/avatar/normalize.js';
import { avatarCommand, image, useHarness } from '../bot/helpers.js';
import {
  animatedWebp,
  blackPng,
  gif,
  manyFrameGif,
  manyFramePng,
  progressiveJpeg,
  truncatedBaselineJpeg,
} from './hostile-images.js';

const CLI = resolve('dist/src/cli.js');
const REPORT_USAGE = resolve('test/adversarial/report-usage.mjs');
const MAX_CPU_MS = 3_000;
const MAX_PEAK_RSS_MB = 300;

interface Usage {
  cpuMs: number;
  peakRssMb: number;
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  usage: Usage;
}

/** Runs node with the usage reporter preloaded; its report arrives on file descriptor 3. */
function runMeasured(args: string[]): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', REPORT_USAGE, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const out: Record<'stdout' | 'stderr' | 'usage', string> = { stdout: '', stderr: '', usage: '' };
    child.stdout!.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => (out.usage += chunk.toString()));
    // Not a timing assertion: a backstop so that the old code's 3-minute bombs fail instead of hanging.
    const kill = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(kill);
      if (!out.usage) return reject(new Error(`no usage report (killed after 25 s?): ${out.stderr}`));
      resolvePromise({ code, stdout: out.stdout, stderr: out.stderr, usage: JSON.parse(out.usage) as Usage });
    });
  });
}

type Outcome = 'normalised' | ImageErrorKind;

interface Case {
  name: string;
  make: () => Buffer | Promise<Buffer>;
  outcome: Outcome;
  /** Something the refusal's sentence must say. */
  says?: RegExp;
}

const ERROR_LINES: Record<Exclude<Outcome, 'normalised'>, RegExp> = {
  'too-many-frames': /^error: That animation has more than 5,000 frames; send a still image or a shorter animation\.$/,
  'too-complex': /^error: That (image|JPEG|file) .*(memory|progressive passes|pieces)/,
  'too-many-pixels': /^error: That image is \d+x\d+ pixels .*the limit is 50 megapixels\.$/,
  corrupt: /^error: That image is damaged or incomplete/,
  empty: /^error: That file is empty/,
  'too-large': /^error: That file is/,
  'unsupported-format': /^error: That file/,
};

const baselinePhoto = () => sharp(readFileSync('test/fixtures/images/sharp/Landscape_1.jpg')).jpeg({ progressive: false }).toBuffer();

const CASES: Case[] = [
  // Animated WebP: libvips walks every frame (quadratically) before the first one. 217k frames was 174 s.
  { name: 'animated WebP, 1,000 copies of a 1x1 frame', make: () => animatedWebp(1_000), outcome: 'normalised' },
  { name: 'animated WebP, 10,000 frames', make: () => animatedWebp(10_000), outcome: 'too-many-frames' },
  { name: 'animated WebP, 100,000 frames', make: () => animatedWebp(100_000), outcome: 'too-many-frames' },
  { name: 'animated WebP, 217,000 frames (10 MB)', make: () => animatedWebp(217_000), outcome: 'too-many-frames' },
  // WebP canvas far larger than its only frame: libvips composites onto a whole RGBA canvas.
  { name: 'WebP, 7000x7000 canvas around a 1x1 frame (90 bytes)', make: () => animatedWebp(1, 7_000, 7_000), outcome: 'too-complex', says: /7000x7000, animated WebP/ },
  { name: 'WebP, 16383x3000 canvas around a 1x1 frame', make: () => animatedWebp(1, 16_383, 3_000), outcome: 'too-complex' },
  { name: 'WebP, 3000x3000 canvas around a 1x1 frame', make: () => animatedWebp(1, 3_000, 3_000), outcome: 'normalised' },
  { name: 'WebP, 16383x16383 canvas', make: () => animatedWebp(1, 16_383, 16_383), outcome: 'too-many-pixels' },
  // Progressive JPEG: every scan revisits every block; the coefficients of the whole image are held.
  { name: 'progressive JPEG 7071x7071, 2,647 scans', make: () => progressiveJpeg({ width: 7071, height: 7071, components: 3, scans: 2647 }), outcome: 'too-complex', says: /more than 100 progressive passes/ },
  { name: 'progressive JPEG 1000x1000, 2,647 scans', make: () => progressiveJpeg({ width: 1000, height: 1000, components: 3, scans: 2647 }), outcome: 'too-complex' },
  { name: 'progressive JPEG 2000x2000, 100 scans', make: () => progressiveJpeg({ width: 2000, height: 2000, components: 3, scans: 100 }), outcome: 'normalised' },
  { name: 'progressive JPEG 4000x4000 grey, 100 scans', make: () => progressiveJpeg({ width: 4000, height: 4000, components: 1, scans: 100 }), outcome: 'normalised' },
  { name: 'progressive JPEG 6000x6000 grey, 100 scans (3.6e7 x 100 block visits)', make: () => progressiveJpeg({ width: 6000, height: 6000, components: 1, scans: 100 }), outcome: 'too-complex' },
  { name: 'progressive JPEG 7071x7071, 10 scans (300 MB of coefficients)', make: () => progressiveJpeg({ width: 7071, height: 7071, components: 3, scans: 10 }), outcome: 'too-complex', says: /progressive JPEG/ },
  { name: 'progressive JPEG 4000x4000, 10 scans', make: () => progressiveJpeg({ width: 4000, height: 4000, components: 3, scans: 10 }), outcome: 'normalised' },
  { name: 'progressive JPEG 7071x7071 truncated after 20 KB', make: () => progressiveJpeg({ width: 7071, height: 7071, components: 3, scans: 10, truncateAt: 20_000 }), outcome: 'too-complex' },
  { name: 'progressive JPEG 3000x3000 truncated after 20 KB', make: () => progressiveJpeg({ width: 3000, height: 3000, components: 3, scans: 10, truncateAt: 20_000 }), outcome: 'corrupt' },
  { name: 'baseline JPEG claiming 7071x7071, truncated', make: async () => truncatedBaselineJpeg(await baselinePhoto(), 7071, 7071), outcome: 'corrupt' },
  { name: 'baseline JPEG claiming 65535x65535, truncated', make: async () => truncatedBaselineJpeg(await baselinePhoto(), 65535, 65535), outcome: 'too-many-pixels' },
  // Interlaced PNG is decoded whole, at its bit depth: 7071x7071 RGB16 was 540 MB.
  { name: 'interlaced 16-bit RGB PNG 7071x7071 (1.9 MB)', make: () => blackPng({ width: 7071, height: 7071, bitDepth: 16, interlaced: true }), outcome: 'too-complex', says: /interlaced 16-bit PNG/ },
  { name: 'interlaced 16-bit RGB PNG 4000x4000', make: () => blackPng({ width: 4000, height: 4000, bitDepth: 16, interlaced: true }), outcome: 'normalised' },
  { name: 'interlaced 8-bit RGBA PNG 7071x7071', make: () => blackPng({ width: 7071, height: 7071, colourType: 6, interlaced: true }), outcome: 'too-complex' },
  { name: 'interlaced 8-bit RGBA PNG 5000x5000', make: () => blackPng({ width: 5000, height: 5000, colourType: 6, interlaced: true }), outcome: 'normalised' },
  { name: 'non-interlaced 16-bit RGBA PNG 7071x7071 (streamed)', make: () => blackPng({ width: 7071, height: 7071, bitDepth: 16, colourType: 6 }), outcome: 'normalised' },
  { name: 'APNG, 1,000 frames', make: () => manyFramePng(1_000), outcome: 'normalised' },
  { name: 'APNG, 10,000 frames', make: () => manyFramePng(10_000), outcome: 'too-many-frames' },
  { name: 'APNG, 100,000 frames', make: () => manyFramePng(100_000), outcome: 'too-many-frames' },
  // GIF: canvas vs frames.
  { name: 'GIF, 7000x7000 screen with a 1x1 frame', make: () => manyFrameGif(7_000, 7_000, 1), outcome: 'too-complex' },
  { name: 'GIF, 3000x3000 screen with a 1x1 frame', make: () => manyFrameGif(3_000, 3_000, 1), outcome: 'normalised' },
  { name: 'GIF, 1x1 screen with a 7000x7000 frame', make: () => gif(1, 1, [{ left: 0, top: 0, width: 7_000, height: 7_000 }]), outcome: 'too-complex' },
  { name: 'GIF, 10x10 screen with a frame at 60000,60000', make: () => gif(10, 10, [{ left: 60_000, top: 60_000, width: 1, height: 1 }]), outcome: 'too-many-pixels' },
  { name: 'GIF, 65535x65535 screen', make: () => manyFrameGif(65_535, 65_535, 1), outcome: 'too-many-pixels' },
  { name: 'GIF, 1,000 frames', make: () => manyFrameGif(100, 100, 1_000), outcome: 'normalised' },
  { name: 'GIF, 10,000 frames', make: () => manyFrameGif(100, 100, 10_000), outcome: 'too-many-frames' },
  { name: 'GIF, 100,000 frames', make: () => manyFrameGif(100, 100, 100_000), outcome: 'too-many-frames' },
  // Containers cut into millions of pieces: the walk itself must stay short.
  { name: 'PNG with 2 million empty chunks (25 MB)', make: () => Buffer.concat([blackPng({ width: 1, height: 1 }).subarray(0, 33), Buffer.alloc(24 * 1024 * 1024)]), outcome: 'too-complex', says: /more pieces than any real image/ },
  { name: 'GIF comment of 12 million 1-byte blocks (25 MB)', make: () => Buffer.concat([manyFrameGif(1, 1, 1).subarray(0, 25), Buffer.from([0x21, 0xfe]), Buffer.alloc(24 * 1024 * 1024, 1)]), outcome: 'too-complex' },
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'avatar-adversarial-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The banner (`--banner`, 1500x500) goes through the same checks as the avatar and must meet the same bounds. */
const TARGETS = [
  { target: 'avatar', flags: [], width: 400, height: 400 },
  { target: 'banner', flags: ['--banner'], width: 1500, height: 500 },
];

describe.each(TARGETS)('hostile images through avatar-bot normalize as the $target: normalised or refused within 3 s of CPU and 300 MB', ({ target, flags, width, height }) => {
  it.each(CASES)('$name: $outcome', async ({ name, make, outcome, says }) => {
    const input = join(dir, `${target}-${name.replace(/\W+/g, '-')}.img`);
    const output = `${input}.out`;
    writeFileSync(input, await make());
    const { code, stdout, stderr, usage } = await runMeasured([CLI, 'normalize', ...flags, input, output]);
    if (outcome === 'normalised') {
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ width, height });
      expect((await sharp(readFileSync(output)).metadata()).width).toBe(width);
    } else {
      expect(code).toBe(2);
      expect(stderr.trim()).toMatch(ERROR_LINES[outcome]);
      if (says) expect(stderr).toMatch(says);
    }
    expect(usage.cpuMs).toBeLessThanOrEqual(MAX_CPU_MS);
    expect(usage.peakRssMb).toBeLessThanOrEqual(MAX_PEAK_RSS_MB);
  });
});

const tick = () => new Promise((r) => setImmediate(r));

describe('the decode memory budget', () => {
  it('keeps two heavy-but-allowed images decoded concurrently under 300 MB', async () => {
    // Each is held whole (122 MB of 16-bit pixels), estimated at 194 MB, and really adds about 165 MB:
    // decoded together, as before the budget, the child peaked at 367 MB.
    const heavy = [
      blackPng({ width: 4500, height: 4500, bitDepth: 16, interlaced: true }),
      blackPng({ width: 4480, height: 4480, bitDepth: 16, interlaced: true }),
    ];
    const paths = heavy.map((bytes, i) => {
      const path = join(dir, `heavy-${i}.png`);
      writeFileSync(path, bytes);
      return path;
    });
    const moduleUrl = new URL('../../dist/src/avatar/normalize.js', import.meta.url).href;
    const script = `
      import { readFileSync } from 'node:fs';
      const { createAvatarNormalizer } = await import(${JSON.stringify(moduleUrl)});
      const normalizer = createAvatarNormalizer({ concurrency: 2 });
      const avatars = await Promise.all(${JSON.stringify(paths)}.map((path) => normalizer.normalize(readFileSync(path))));
      console.log(JSON.stringify(avatars.map((avatar) => avatar.width)));`;
    const { code, stdout, stderr, usage } = await runMeasured(['--input-type=module', '-e', script]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([400, 400]);
    expect(usage.peakRssMb).toBeLessThanOrEqual(MAX_PEAK_RSS_MB);
  });

  it('shares it between an avatar and a banner: two heavy images, one of each, stay under 300 MB', async () => {
    const paths = [4500, 4480].map((side, i) => {
      const path = join(dir, `heavy-mixed-${i}.png`);
      writeFileSync(path, blackPng({ width: side, height: side, bitDepth: 16, interlaced: true }));
      return path;
    });
    const moduleUrl = new URL('../../dist/src/avatar/normalize.js', import.meta.url).href;
    const script = `
      import { readFileSync } from 'node:fs';
      const { createAvatarNormalizer } = await import(${JSON.stringify(moduleUrl)});
      const normalizer = createAvatarNormalizer({ concurrency: 2 });
      const [avatarPath, bannerPath] = ${JSON.stringify(paths)};
      const images = await Promise.all([normalizer.normalize(readFileSync(avatarPath)), normalizer.banner(readFileSync(bannerPath))]);
      console.log(JSON.stringify(images.map((image) => [image.width, image.height])));`;
    const { code, stdout, stderr, usage } = await runMeasured(['--input-type=module', '-e', script]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([
      [400, 400],
      [1500, 500],
    ]);
    expect(usage.peakRssMb).toBeLessThanOrEqual(MAX_PEAK_RSS_MB);
  });

  it('runs a small decode beside a heavy one, but never two heavy ones together', async () => {
    const limiter = createLimiter(2, MAX_DECODE_BYTES);
    const heavy = MAX_DECODE_BYTES * 0.9;
    const small = MAX_DECODE_BYTES * 0.05;
    const started: string[] = [];
    const finish: Record<string, () => void> = {};
    const job = (name: string, weight: number) =>
      limiter.run(
        () =>
          new Promise<void>((done) => {
            started.push(name);
            finish[name] = done;
          }),
        weight,
      );
    const jobs = [job('heavy-1', heavy), job('heavy-2', heavy), job('small', small)];
    await tick();
    expect(started).toEqual(['heavy-1', 'small']);
    expect(limiter.used).toBe(heavy + small);
    finish['small']!();
    await jobs[2];
    expect(started).toEqual(['heavy-1', 'small']); // heavy-2 still waits for memory
    finish['heavy-1']!();
    await jobs[0];
    await tick();
    expect(started).toEqual(['heavy-1', 'small', 'heavy-2']);
    finish['heavy-2']!();
    await Promise.all(jobs);
    expect([limiter.active, limiter.queued, limiter.used]).toEqual([0, 0, 0]);
  });

  it('lets a waiting heavy decode be overtaken only a few times, so it cannot starve', async () => {
    const limiter = createLimiter(3, 100);
    const finish: Array<() => void> = [];
    const started: string[] = [];
    const job = (name: string, weight: number) =>
      limiter.run(() => new Promise<void>((done) => (started.push(name), finish.push(done))), weight);
    const running = [job('first', 60)];
    running.push(job('heavy', 90));
    for (let i = 0; i < 10; i += 1) running.push(job(`small-${i}`, 1));
    await tick();
    // Two run beside `first` (the count limit), then each finished small lets one more pass the heavy
    // one, until it has been overtaken four times: then nothing passes it.
    expect(started).toEqual(['first', 'small-0', 'small-1']);
    for (let i = 0; i < 4; i += 1) {
      finish[1 + i]!();
      await tick();
    }
    expect(started).toEqual(['first', 'small-0', 'small-1', 'small-2', 'small-3']);
    expect(limiter.queued).toBe(7);
    finish[0]!(); // `first` ends: now the heavy one fits, and starts before the smalls behind it
    await tick();
    expect(started.at(5)).toBe('heavy');
    while (started.length < 12) {
      finish.forEach((done) => done());
      await tick();
    }
    finish.forEach((done) => done());
    await Promise.all(running);
  });
});

describe('in the bot: a bomb is refused without holding up anyone else', () => {
  const h = useHarness();

  it("refuses a 217,000-frame WebP at once while another user's /avatar set completes beside it", async () => {
    const [attacker, neighbour] = [h.discord.addMember({ username: 'bomb-ada' }), h.discord.addMember({ username: 'normal-bo' })];
    await h.linkUser(attacker, 'ada_x');
    await h.linkUser(neighbour, 'bo_x');
    const bomb = animatedWebp(217_000);
    const photo = readFileSync('test/fixtures/images/sharp/flowers.jpeg');

    let peakDecoding = 0;
    const sample = setInterval(() => (peakDecoding = Math.max(peakDecoding, h.services.normalizer.active)), 1);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const uploadsBefore = h.x.uploads.length;
    const cpuBefore = process.cpuUsage();
    try {
      const [refused, applied] = await Promise.all([
        avatarCommand(h, attacker, 'set', image('party.webp', bomb)),
        avatarCommand(h, neighbour, 'set', image('me.jpg', photo)),
      ]);
      expect(refused.reply.content).toBe('That animation has more than 5,000 frames; send a still image or a shorter animation.');
      expect(applied.reply.embeds[0]?.title).toBe('Avatar updated');
    } finally {
      clearInterval(sample);
      delay.disable();
    }
    const cpu = process.cpuUsage(cpuBefore);
    // The bomb never reached the decoder (only the neighbour's photo did), the event loop was never
    // blocked (the structure walk over 10 MB is a few ms), and the whole exchange cost well under the
    // 174 s of CPU the bomb took before.
    expect(peakDecoding).toBeLessThanOrEqual(1);
    expect(delay.max / 1e6).toBeLessThan(250);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(MAX_CPU_MS);
    expect(h.x.uploads.length).toBe(uploadsBefore + 1);
  });
});
