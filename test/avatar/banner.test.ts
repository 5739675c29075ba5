/**
 * The banner target: 1500x500 under 5 MB with the avatar's guarantees, its crop modes, the normaliser's
 * banner method, and bannerPreview (every real fixture goes through the banner in fixtures.test.ts, every
 * hostile file in test/adversarial/images.test.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { hashImage } from '../../src/avatar/history.js';
import { bannerPreview, PREVIEW_CIRCLES, PREVIEW_HEIGHT, PREVIEW_WIDTH } from '../../src/avatar/banner.js';
import {
  type Banner,
  BackgroundColourError,
  createAvatarNormalizer,
  encodeBanner,
  ImageError,
  type ImageErrorKind,
  MAX_BANNER_BYTES,
  normalizeAvatar,
  normalizeBanner,
} from '../../src/avatar/normalize.js';
import { rejectionOf } from '../support/rejection.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'images');
const fixture = (file: string) => readFileSync(join(FIXTURES, file));

type Rgb = [number, number, number];

async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number, number]> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
}

function expectColour(actual: number[], expected: number[], tolerance = 8): void {
  expected.forEach((value, i) => expect(Math.abs(actual[i]! - value), `channel ${i} of ${actual}`).toBeLessThanOrEqual(tolerance));
}

/** RGB raw pixels from a function of the coordinates, as PNG. */
/** The mean colour of a box of an image. */
async function meanColour(image: Buffer, box: { left: number; top: number; width: number; height: number }): Promise<number[]> {
  const { data, info } = await sharp(image).extract(box).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c += 1) sums[c]! += data[i + c]!;
  return sums.map((sum) => sum / (info.width * info.height));
}

function rgbPng(width: number, height: number, pixel: (x: number, y: number) => Rgb): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) data.set(pixel(x, y), (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function expectValidBanner(banner: Banner, format: 'jpeg' | 'png'): Promise<void> {
  expect(banner.format).toBe(format);
  expect([banner.width, banner.height]).toEqual([1500, 500]);
  expect(banner.bytes).toBe(banner.data.length);
  expect(banner.bytes).toBeLessThan(MAX_BANNER_BYTES);
  const metadata = await sharp(banner.data).metadata();
  expect([metadata.format, metadata.width, metadata.height, metadata.space, metadata.depth]).toEqual([format, 1500, 500, 'srgb', 'uchar']);
  expect([metadata.exif, metadata.icc, metadata.xmp, metadata.iptc]).toEqual([undefined, undefined, undefined, undefined]);
}

/** CPU time of this process (libvips' threads included) while `work` runs. */
async function cpuMsOf(work: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1000;
}

describe('normalizeBanner', () => {
  it('makes a 3:1 photo a 1500x500 JPEG well under 5 MB', async () => {
    const banner = await normalizeBanner(fixture('sharp/flowers.jpeg'));
    await expectValidBanner(banner, 'jpeg');
    expect(banner.bytes).toBeLessThan(1024 * 1024); // the quality ladder starts at 85: far under X's limit
  });

  it('keeps transparency as PNG', async () => {
    const banner = await normalizeBanner(fixture('sharp/full-transparent.png'));
    await expectValidBanner(banner, 'png');
    expect((await pixelAt(banner.data, 0, 0))[3]).toBe(0);
  });

  it('keeps random noise (the worst case for JPEG) under 5 MB', async () => {
    const noise = await sharp({ create: { width: 1500, height: 500, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 120 } } })
      .png()
      .toBuffer();
    await expectValidBanner(await normalizeBanner(noise), 'jpeg');
  });

  it('keeps RGBA noise (the worst case for PNG) as PNG under 5 MB', async () => {
    const noise = await sharp({ create: { width: 1500, height: 500, channels: 4, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 120 } } })
      .png()
      .toBuffer();
    await expectValidBanner(await normalizeBanner(noise), 'png');
  });

  it('lowers JPEG quality until it fits a smaller budget', async () => {
    const noisy = { pixels: Buffer.from(Array.from({ length: 1500 * 500 * 3 }, (_, i) => (i * 7919) % 251)), channels: 3 as const };
    const white = { r: 255, g: 255, b: 255 };
    const first = await encodeBanner(noisy, white);
    const smaller = await encodeBanner(noisy, white, first.data.length);
    expect(smaller.format).toBe('jpeg');
    expect(smaller.data.length).toBeLessThan(first.data.length);
    expect((await sharp(smaller.data).metadata()).width).toBe(1500);
  });

  it('applies EXIF orientation: each corner of a rotated 3:1 picture comes out where it belongs', async () => {
    // Upright: red, green / blue, white quarters. Stored turned or mirrored with the EXIF tag that undoes it.
    const corners: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 255],
    ];
    const upright = (x: number, y: number): Rgb => corners[(y < 150 ? 0 : 2) + (x < 450 ? 0 : 1)]!;
    const [W, H] = [900, 300];
    // Where display pixel (x, y) is stored, for each orientation (EXIF 2.32, tag 0x0112).
    const stored: Record<number, (x: number, y: number) => [number, number]> = {
      1: (x, y) => [x, y],
      2: (x, y) => [W - 1 - x, y],
      3: (x, y) => [W - 1 - x, H - 1 - y],
      4: (x, y) => [x, H - 1 - y],
      5: (x, y) => [y, x],
      6: (x, y) => [y, W - 1 - x], // stored row 0 is the right-hand column, stored column 0 the top row
      7: (x, y) => [H - 1 - y, W - 1 - x],
      8: (x, y) => [H - 1 - y, x],
    };
    for (const [orientation, where] of Object.entries(stored)) {
      const turned = Number(orientation) >= 5;
      const [sw, sh] = turned ? [H, W] : [W, H];
      const pixels = Buffer.alloc(sw * sh * 3);
      for (let y = 0; y < H; y += 1) {
        for (let x = 0; x < W; x += 1) {
          const [sx, sy] = where(x, y);
          pixels.set(upright(x, y), (sy * sw + sx) * 3);
        }
      }
      const jpeg = await sharp(pixels, { raw: { width: sw, height: sh, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: Number(orientation) }).toBuffer();
      expect((await sharp(jpeg).metadata()).orientation).toBe(Number(orientation));
      const banner = await normalizeBanner(jpeg, { crop: 'centre' });
      await expectValidBanner(banner, 'jpeg');
      const seen = await Promise.all([pixelAt(banner.data, 20, 20), pixelAt(banner.data, 1479, 20), pixelAt(banner.data, 20, 479), pixelAt(banner.data, 1479, 479)]);
      seen.forEach((colour, corner) => expectColour(colour, corners[corner]!, 12));
    }
  });

  it('uses the first frame of an animation', async () => {
    const frames = Buffer.alloc(30 * 20 * 3 * 2);
    for (let i = 0; i < 30 * 20; i += 1) frames[i * 3] = 255; // frame 1 red
    for (let i = 30 * 20; i < 30 * 20 * 2; i += 1) frames[i * 3 + 2] = 255; // frame 2 blue
    const gif = await sharp(frames, { raw: { width: 30, height: 40, channels: 3, pageHeight: 20 } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    for (const animation of [gif, await sharp(gif, { pages: -1 }).webp({ lossless: true }).toBuffer()]) {
      const banner = await normalizeBanner(animation);
      await expectValidBanner(banner, 'jpeg');
      expectColour(await pixelAt(banner.data, 750, 250), [255, 0, 0]);
    }
  });

  it('uses the first frame of the real animated fixtures', async () => {
    // A later frame that looks different from the first (the first frames of rotating-squares are alike).
    for (const [file, later] of [
      ['sharp/rotating-squares.gif', 5],
      ['sharp/animated-loop-3.webp', 5],
    ] as const) {
      const input = fixture(file);
      expect((await sharp(input).metadata()).pages).toBeGreaterThan(later);
      const firstFrame = await sharp(input, { page: 0, pages: 1 }).png().toBuffer();
      const secondFrame = await sharp(input, { page: later, pages: 1 }).png().toBuffer();
      const [fromAnimation, fromFirst, fromSecond] = await Promise.all([input, firstFrame, secondFrame].map((bytes) => normalizeBanner(bytes, { crop: 'centre' })));
      const raw = (banner: Banner) => sharp(banner.data).raw().toBuffer();
      const [a, b, c] = await Promise.all([fromAnimation!, fromFirst!, fromSecond!].map(raw));
      expect(meanDifference(a!, b!), file).toBeLessThan(2);
      expect(meanDifference(a!, c!), `${file}: the frames differ`).toBeGreaterThan(2);
    }
  });

  it('refuses what the avatar refuses, with the same kinds', async () => {
    const cases: Array<[Buffer, ImageErrorKind]> = [
      [Buffer.alloc(0), 'empty'],
      [Buffer.from('hello, this is a text file\n'), 'unsupported-format'],
      [fixture('sharp/G31D.TIF'), 'unsupported-format'],
      [fixture('sharp/giant-image.jpg'), 'too-many-pixels'],
      [fixture('sharp/truncated.jpg'), 'corrupt'],
      [fixture('sharp/truncated.png'), 'corrupt'],
    ];
    for (const [input, kind] of cases) {
      const [avatarError, bannerError] = await Promise.all([rejectionOf(normalizeAvatar(input)), rejectionOf(normalizeBanner(input))]);
      expect(bannerError).toBeInstanceOf(ImageError);
      expect((bannerError as ImageError).kind).toBe(kind);
      expect((bannerError as ImageError).userMessage).toBe((avatarError as ImageError).userMessage);
    }
    expect(await rejectionOf(normalizeBanner(fixture('sharp/flowers.jpeg'), { background: 'red' }))).toBeInstanceOf(BackgroundColourError);
  });

  it('refuses the decompression bomb and truncated files within 300 ms of CPU', async () => {
    await normalizeBanner(fixture('sharp/flowers.jpeg')); // libvips warmed up, so its start is not counted
    for (const [file, kind] of [
      ['sharp/giant-image.jpg', 'too-many-pixels'],
      ['sharp/truncated.jpg', 'corrupt'],
      ['sharp/truncated.png', 'corrupt'],
      ['sharp/corrupt-header.jpg', 'corrupt'],
    ] as const) {
      let error: unknown;
      const cpuMs = await cpuMsOf(async () => (error = await rejectionOf(normalizeBanner(fixture(file)))));
      expect((error as ImageError).kind, file).toBe(kind);
      expect(cpuMs, file).toBeLessThan(300);
    }
  });
});

function meanDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('banner crop modes', () => {
  // 900x900: red, green and blue horizontal thirds. A 3:1 crop of a square keeps its middle third.
  const thirds = () => rgbPng(900, 900, (_x, y) => (y < 300 ? [255, 0, 0] : y < 600 ? [0, 255, 0] : [0, 0, 255]));

  it.each(['centre', 'attention'] as const)('%s fills the whole banner with the picture', async (crop) => {
    const banner = await normalizeBanner(await thirds(), { crop, background: '#ff00ff' });
    await expectValidBanner(banner, 'jpeg');
    // Inside the corners by 10 px: the rows at the edges are blended with the next third by the resize.
    for (const [x, y] of [
      [10, 10],
      [1489, 10],
      [10, 489],
      [1489, 489],
      [750, 250],
    ] as const) {
      const [r, g, b] = await pixelAt(banner.data, x, y);
      expect(r > 200 && b > 200 && g < 60, `the background shows at ${x},${y}`).toBe(false);
      expect(Math.max(r, g, b), `${x},${y} is one of the thirds`).toBeGreaterThan(200);
    }
    if (crop === 'centre') {
      for (const [x, y] of [
        [10, 10],
        [750, 250],
        [1489, 489],
      ] as const) {
        expectColour(await pixelAt(banner.data, x, y), [0, 255, 0], 12);
      }
    }
  });

  it('contain shows the whole square on the background colour in the side margins', async () => {
    const banner = await normalizeBanner(await thirds(), { crop: 'contain', background: '#1da1f2' });
    await expectValidBanner(banner, 'jpeg');
    // The square is 500x500 in the middle (x 500..999); the margins are the colour.
    for (const [x, y] of [
      [10, 10],
      [10, 490],
      [480, 250],
      [1020, 250],
      [1489, 490],
    ] as const) {
      expectColour(await pixelAt(banner.data, x, y), [0x1d, 0xa1, 0xf2]);
    }
    expectColour(await pixelAt(banner.data, 750, 50), [255, 0, 0], 12);
    expectColour(await pixelAt(banner.data, 750, 250), [0, 255, 0], 12);
    expectColour(await pixelAt(banner.data, 750, 450), [0, 0, 255], 12);
  });

  it('keeps attention for a portrait photo (its cover is 1500x2000)', async () => {
    // A 600x800 portrait: grey, with a bright detailed patch low down. Centre would cut it away.
    const detail = (x: number, y: number): Rgb => ((x >> 2) + (y >> 2)) % 2 ? [255, 40, 0] : [255, 255, 0];
    const portrait = await rgbPng(600, 800, (x, y) => (y > 620 && y < 760 && x > 200 && x < 400 ? detail(x, y) : [90, 90, 90]));
    const attention = await normalizeBanner(portrait, { crop: 'attention' });
    const centre = await normalizeBanner(portrait, { crop: 'centre' });
    const [r] = await pixelAt(centre.data, 750, 250);
    expect(r).toBeLessThan(120); // the centre band is grey
    const [red] = await meanColour(attention.data, { left: 550, top: 0, width: 400, height: 500 });
    expect(red).toBeGreaterThan(150); // attention found the patch
  });
});

describe('the normaliser', () => {
  it('makes banners with the same slots as avatars, and tells the two apart', async () => {
    const normalizer = createAvatarNormalizer({ concurrency: 1 });
    const input = await rgbPng(64, 64, () => [30, 60, 90]); // one colour: the most alike two outputs can be
    const [avatar, banner] = await Promise.all([normalizer.normalize(input), normalizer.banner(input)]);
    expect([avatar.width, avatar.height, banner.width, banner.height]).toEqual([400, 400, 1500, 500]);
    await expectValidBanner(banner, 'jpeg');
    // Content addresses (history, library) hash the output, whose header carries its size: never the same.
    expect(hashImage(banner.data)).not.toBe(hashImage(avatar.data));
    expect(banner.data.equals((await normalizeBanner(input)).data)).toBe(true);
    expect([normalizer.active, normalizer.queued]).toEqual([0, 0]);
  });

  it('rejects a banner cheaply without waiting for a slot', async () => {
    const normalizer = createAvatarNormalizer({ concurrency: 1 });
    const busy = normalizer.banner(fixture('sharp/flowers.jpeg'));
    const error = await rejectionOf(normalizer.banner(fixture('sharp/giant-image.jpg')));
    expect((error as ImageError).kind).toBe('too-many-pixels');
    expect(normalizer.queued).toBe(0);
    await busy;
  });
});

describe('bannerPreview', () => {
  const mean = meanColour;
  /** The middle of a circle (a quarter of its size, square), as a box. */
  const centreOf = ({ left, top, size }: { left: number; top: number; size: number }) => ({
    left: left + Math.round((size * 3) / 8),
    top: top + Math.round((size * 3) / 8),
    width: Math.round(size / 4),
    height: Math.round(size / 4),
  });

  it('lays out the profile page and the phone crop, with the avatar circle over the banner', async () => {
    const banner = await normalizeBanner(await rgbPng(1500, 500, (x) => (x < 500 ? [255, 0, 0] : x < 1000 ? [0, 200, 0] : [0, 0, 255])));
    const avatar = await normalizeAvatar(await rgbPng(100, 100, () => [255, 255, 0]));
    const preview = await bannerPreview(banner.data, avatar.data);

    const metadata = await sharp(preview).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['png', PREVIEW_WIDTH, PREVIEW_HEIGHT]);
    expect(PREVIEW_WIDTH).toBeGreaterThan(1500);

    const { web, phone, webBanner, phoneBanner } = PREVIEW_CIRCLES;
    // The web circle: 22% of the banner's width, 16/600 of it in, centred on the bottom edge.
    expect(web.size).toBe(334);
    expect(web.top + web.size / 2).toBe(webBanner.top + webBanner.height);
    expect(web.left - webBanner.left).toBe(40);
    // Inside the circle the avatar shows, not the banner below it; beside the circle the banner is intact.
    expectColour(await mean(preview, centreOf(web)), [255, 255, 0], 10);
    expectColour(await mean(preview, { left: webBanner.left + 250, top: webBanner.top + 20, width: 40, height: 40 }), [255, 0, 0], 10);
    expectColour(await mean(preview, { left: webBanner.left + 1300, top: webBanner.top + 400, width: 40, height: 40 }), [0, 0, 255], 10);
    // Half of the circle hangs below the banner, on the page.
    expectColour(await mean(preview, { ...centreOf(web), top: web.top + web.size - 60, height: 20 }), [255, 255, 0], 10);

    // The phone shows the centred 2:1 part: the red and blue thirds are cut to a quarter each side.
    expect(phoneBanner.width / phoneBanner.height).toBe(2);
    expectColour(await mean(preview, { left: phoneBanner.left + 10, top: phoneBanner.top + 10, width: 20, height: 20 }), [255, 0, 0], 10);
    expectColour(await mean(preview, { left: phoneBanner.left + phoneBanner.width / 2 - 10, top: phoneBanner.top + 10, width: 20, height: 20 }), [0, 200, 0], 10);
    expectColour(await mean(preview, { left: phoneBanner.left + phoneBanner.width - 30, top: phoneBanner.top + 10, width: 20, height: 20 }), [0, 0, 255], 10);
    expectColour(await mean(preview, centreOf(phone)), [255, 255, 0], 10);
  });

  it('shows an empty grey circle without an avatar', async () => {
    const banner = await normalizeBanner(await rgbPng(300, 100, () => [0, 0, 0]));
    const preview = await bannerPreview(banner.data);
    const inside = await mean(preview, centreOf(PREVIEW_CIRCLES.web));
    expect(Math.min(...inside)).toBeGreaterThan(150); // the banner there is black
  });

  it('refuses an image that is not a 1500x500 banner', async () => {
    const avatar = await normalizeAvatar(fixture('sharp/flowers.jpeg'));
    expect(await rejectionOf(bannerPreview(avatar.data))).toBeInstanceOf(RangeError);
  });
});
