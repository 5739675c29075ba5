import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../support/rejection.js';
import {
  AVATAR_SIZE,
  type Avatar,
  BackgroundColourError,
  createAvatarNormalizer,
  createLimiter,
  detectImageFormat,
  encodeAvatar,
  ImageError,
  type ImageErrorKind,
  MAX_INPUT_BYTES,
  MAX_INPUT_PIXELS,
  MAX_OUTPUT_BYTES,
  normalizeAvatar,
  parseBackground,
} from '../../src/avatar/normalize.js';

const execFileAsync = promisify(execFile);
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'images');
const fixture = (file: string) => readFileSync(join(FIXTURES, file));


async function expectImageError(promise: Promise<unknown>, kind: ImageErrorKind): Promise<ImageError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(ImageError);
  expect((error as ImageError).kind).toBe(kind);
  return error as ImageError;
}

/** RGBA of one pixel of an encoded image. */
async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number, number]> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
}

function expectColour(actual: number[], expected: number[], tolerance = 6): void {
  expected.forEach((value, i) => expect(Math.abs(actual[i]! - value), `channel ${i} of ${actual}`).toBeLessThanOrEqual(tolerance));
}

function solidPng(width: number, height: number, colour: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png({ compressionLevel: 9 }).toBuffer();
}

/** RGBA raw pixels from a function of the coordinates. */
function rgbaImage(width: number, height: number, pixel: (x: number, y: number) => number[]): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) data.set(pixel(x, y), (y * width + x) * 4);
  }
  return sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

async function expectValidAvatar(avatar: Avatar, format: 'jpeg' | 'png'): Promise<void> {
  expect(avatar.format).toBe(format);
  expect(avatar.bytes).toBeLessThan(MAX_OUTPUT_BYTES);
  const metadata = await sharp(avatar.data).metadata();
  expect([metadata.format, metadata.width, metadata.height]).toEqual([format, AVATAR_SIZE, AVATAR_SIZE]);
  expect([metadata.space, metadata.depth]).toEqual(['srgb', 'uchar']);
}

describe('input checks', () => {
  it('refuses an empty file', async () => {
    await expectImageError(normalizeAvatar(Buffer.alloc(0)), 'empty');
    await expectImageError(normalizeAvatar(new Uint8Array(0)), 'empty');
  });

  it('refuses a file over 25 MB and says the limit', async () => {
    const big = Buffer.alloc(MAX_INPUT_BYTES + 1);
    big.set([0xff, 0xd8, 0xff, 0xe0]);
    const error = await expectImageError(normalizeAvatar(big), 'too-large');
    expect(error.userMessage).toBe('That file is 25.1 MB; images can be at most 25 MB.');
  });

  it('refuses iPhone HEIC photos and says what to send instead', async () => {
    const ftyp = Buffer.alloc(24);
    ftyp.writeUInt32BE(24, 0);
    ftyp.write('ftypheic', 4, 'latin1');
    ftyp.write('mif1heic', 16, 'latin1');
    const heic = Buffer.concat([ftyp, randomBytes(512)]);
    expect(detectImageFormat(heic)).toBe('heic');
    const error = await expectImageError(normalizeAvatar(heic), 'unsupported-format');
    expect(error.userMessage).toContain('send a JPG or PNG');
  });

  it('refuses bytes that are no image at all', async () => {
    const error = await expectImageError(normalizeAvatar(Buffer.from('hello, this is a text file\n')), 'unsupported-format');
    expect(error.userMessage).toMatch(/send a JPG, PNG, GIF or WebP/);
  });

  it('calls garbage behind a JPEG signature corrupt', async () => {
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(4096)]);
    await expectImageError(normalizeAvatar(garbage), 'corrupt');
  });

  it('calls a JPEG cut in half corrupt', async () => {
    const jpeg = await sharp(fixture('sharp/flowers.jpeg')).jpeg({ quality: 90 }).toBuffer();
    await expectImageError(normalizeAvatar(jpeg.subarray(0, jpeg.length >> 1)), 'corrupt');
  });

  it('goes by content, not by name: a JPEG saved as .png works, and a PNG saved as .jpg', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'avatar-'));
    try {
      writeFileSync(join(dir, 'me.png'), fixture('sharp/Landscape_1.jpg'));
      writeFileSync(join(dir, 'me.jpg'), fixture('sharp/with-alpha.png'));
      await expectValidAvatar(await normalizeAvatar(readFileSync(join(dir, 'me.png'))), 'jpeg');
      await expectValidAvatar(await normalizeAvatar(readFileSync(join(dir, 'me.jpg'))), 'png');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a Uint8Array view into a larger buffer', async () => {
    const png = await solidPng(10, 10, '#00ff00');
    const padded = new Uint8Array(png.length + 20);
    padded.set(png, 10);
    await expectValidAvatar(await normalizeAvatar(padded.subarray(10, 10 + png.length)), 'jpeg');
  });
});

describe('only JPEG, PNG, GIF and WebP decoders run', () => {
  // Importing the pipeline blocked every other libvips loader process-wide: even if magic-byte
  // detection were bypassed, these formats cannot be decoded.
  it.each(['sharp/check.svg', 'sharp/pitm.avif', 'sharp/G31D.TIF', 'sharp/relax.jp2'])('sharp refuses %s', async (file) => {
    await expect(sharp(fixture(file)).metadata()).rejects.toThrow(/unsupported image format/);
    await expect(sharp(fixture(file)).png().toBuffer()).rejects.toThrow(/unsupported image format/);
  });

  it('refuses file paths too (loaders from files are blocked)', async () => {
    await expect(sharp(join(FIXTURES, 'sharp/Landscape_1.jpg')).metadata()).rejects.toThrow();
  });
});

describe('pixel limits', () => {
  let hundredMegapixels: Buffer;
  let fortyNineMegapixels: Buffer;

  beforeAll(async () => {
    [hundredMegapixels, fortyNineMegapixels] = await Promise.all([
      solidPng(10_000, 10_000, '#3366cc'),
      solidPng(7_000, 7_000, '#3366cc'),
    ]);
  }, 30_000);

  it('refuses a 10000x10000 PNG of one colour (a few hundred KB, 100 MP) from its header', async () => {
    expect(hundredMegapixels.length).toBeLessThan(1024 * 1024);
    const error = await expectImageError(normalizeAvatar(hundredMegapixels), 'too-many-pixels');
    expect(error.userMessage).toContain('10000x10000');
    expect(error.userMessage).toContain('50 megapixels');
  });

  it('accepts 7000x7000 (49 MP, just under the limit)', async () => {
    expect(7_000 * 7_000).toBeLessThan(MAX_INPUT_PIXELS);
    const avatar = await normalizeAvatar(fortyNineMegapixels);
    await expectValidAvatar(avatar, 'jpeg');
    expectColour(await pixelAt(avatar.data, 200, 200), [0x33, 0x66, 0xcc]);
  });

  it('counts one frame of an animation: 60 frames of 1000x1000 (60 MP in all) pass', async () => {
    const gif = manyFrameGif(1000, 1000, 60);
    expect((await sharp(gif).metadata()).pages).toBe(60);
    // The whole animation is over the limit, so counting it would refuse the file.
    await expect(sharp(gif, { pages: -1, limitInputPixels: MAX_INPUT_PIXELS }).raw().toBuffer()).rejects.toThrow(/pixel limit/);
    const avatar = await normalizeAvatar(gif);
    expect(avatar.bytes).toBeLessThan(MAX_OUTPUT_BYTES);
  });
});

/** A GIF with a width x height canvas and `frames` frames, each painting one pixel (a few bytes per frame). */
function manyFrameGif(width: number, height: number, frames: number): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0b1000_0001; // global colour table of 4 entries
  const parts = [Buffer.from('GIF89a', 'latin1'), screen, Buffer.from([255, 0, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255])];
  for (let i = 0; i < frames; i += 1) {
    parts.push(Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x00])); // graphic control: 0.1 s
    const descriptor = Buffer.alloc(10);
    descriptor[0] = 0x2c;
    descriptor.writeUInt16LE(i % width, 1);
    descriptor.writeUInt16LE(1, 5);
    descriptor.writeUInt16LE(1, 7);
    // LZW, minimum code size 2, 3-bit codes: clear (4), colour index (i % 2), end (5).
    parts.push(descriptor, Buffer.from([0x02, 0x02, 0x44 | ((i % 2) << 3), 0x01, 0x00]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

describe('shapes and colours', () => {
  it('scales a 1x1 image up to 400x400', async () => {
    const avatar = await normalizeAvatar(await solidPng(1, 1, '#ff8000'));
    await expectValidAvatar(avatar, 'jpeg');
    expectColour(await pixelAt(avatar.data, 0, 0), [255, 128, 0]);
    expectColour(await pixelAt(avatar.data, 399, 399), [255, 128, 0]);
  });

  describe('a 10000x100 strip: red, green, blue thirds', () => {
    let strip: Buffer;
    beforeAll(async () => {
      strip = await rgbaImage(10_000, 100, (x) => (x < 3333 ? [255, 0, 0, 255] : x < 6667 ? [0, 255, 0, 255] : [0, 0, 255, 255]));
    });

    it.each(['centre', 'attention'] as const)('fills the square with %s crop', async (crop) => {
      const avatar = await normalizeAvatar(strip, { crop });
      await expectValidAvatar(avatar, 'jpeg');
      const [r, g, b] = await pixelAt(avatar.data, 200, 200);
      expect(Math.max(r, g, b)).toBeGreaterThan(200); // one of the thirds, no letterbox
      if (crop === 'centre') expectColour(await pixelAt(avatar.data, 200, 200), [0, 255, 0]);
      expectColour(await pixelAt(avatar.data, 0, 0), await pixelAt(avatar.data, 399, 399));
    });

    it('letterboxes it on the background colour with contain', async () => {
      const avatar = await normalizeAvatar(strip, { crop: 'contain', background: '#1da1f2' });
      await expectValidAvatar(avatar, 'jpeg');
      expectColour(await pixelAt(avatar.data, 0, 0), [0x1d, 0xa1, 0xf2]);
      expectColour(await pixelAt(avatar.data, 399, 399), [0x1d, 0xa1, 0xf2]);
      expectColour(await pixelAt(avatar.data, 200, 200), [0, 255, 0], 40); // a 4 px band: JPEG blurs it
    });
  });

  it('crops an extreme strip at its centre even in attention mode', async () => {
    // Attention would score a 400,000x400 intermediate (seconds of CPU; 50000x2 took minutes and 2 GB).
    const strip = await rgbaImage(10_000, 10, (x) => [(x * 7) % 256, (x * 13) % 256, x % 256, 255]);
    const attention = await normalizeAvatar(strip, { crop: 'attention' });
    const centre = await normalizeAvatar(strip, { crop: 'centre' });
    await expectValidAvatar(attention, 'jpeg');
    expect(attention.data.equals(centre.data)).toBe(true);
  });

  it('turns a 16-bit PNG into 8-bit sRGB', async () => {
    const input = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(input).metadata()).depth).toBe('ushort');
    const avatar = await normalizeAvatar(input);
    await expectValidAvatar(avatar, 'jpeg');
    expectColour(await pixelAt(avatar.data, 200, 200), [0x33, 0x66, 0x99]);
  });

  it('turns a CMYK JPEG into sRGB with the right colour', async () => {
    const input = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#ff0000' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect((await sharp(input).metadata()).space).toBe('cmyk');
    const avatar = await normalizeAvatar(input);
    await expectValidAvatar(avatar, 'jpeg');
    const [r, g, b] = await pixelAt(avatar.data, 200, 200);
    expect(r).toBeGreaterThan(200);
    expect(Math.max(g, b)).toBeLessThan(60);
  });

  it('uses the first frame of an animated GIF', async () => {
    const frames = Buffer.alloc(20 * 40 * 3);
    for (let i = 0; i < 20 * 20; i += 1) frames[i * 3] = 255; // frame 1 red
    for (let i = 20 * 20; i < 20 * 40; i += 1) frames[i * 3 + 2] = 255; // frame 2 blue
    const gif = await sharp(frames, { raw: { width: 20, height: 40, channels: 3, pageHeight: 20 } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const avatar = await normalizeAvatar(gif);
    await expectValidAvatar(avatar, 'jpeg');
    expectColour(await pixelAt(avatar.data, 200, 200), [255, 0, 0]);
  });

  it('applies the background colour in contain mode', async () => {
    const avatar = await normalizeAvatar(await solidPng(600, 200, '#000000'), { crop: 'contain', background: '#FF00aa' });
    await expectValidAvatar(avatar, 'jpeg');
    expectColour(await pixelAt(avatar.data, 5, 5), [255, 0, 0xaa]);
    expectColour(await pixelAt(avatar.data, 200, 200), [0, 0, 0]);
  });
});

describe('transparency decides the format on the result', () => {
  // 600x400: opaque red, with a transparent 20 px border all round.
  const framed = () => rgbaImage(600, 400, (x, y) => (x < 20 || y < 20 || x >= 580 || y >= 380 ? [0, 0, 0, 0] : [255, 0, 0, 255]));
  // 1000x400: transparent only in the 200 px at each side, which a centre crop cuts off.
  const sideBars = () => rgbaImage(1000, 400, (x) => (x < 200 || x >= 800 ? [0, 0, 0, 0] : [255, 0, 0, 255]));

  it('stays PNG when transparent pixels remain inside the crop', async () => {
    const avatar = await normalizeAvatar(await framed(), { crop: 'centre' });
    await expectValidAvatar(avatar, 'png');
    expect((await pixelAt(avatar.data, 200, 0))[3]).toBe(0);
    expect(await pixelAt(avatar.data, 200, 200)).toEqual([255, 0, 0, 255]);
  });

  it('becomes JPEG when the crop cuts all transparency away', async () => {
    const input = await sideBars();
    expect((await sharp(input).metadata()).hasAlpha).toBe(true);
    const avatar = await normalizeAvatar(input, { crop: 'centre' });
    await expectValidAvatar(avatar, 'jpeg');
  });

  it('becomes an opaque JPEG on the background in contain mode', async () => {
    const avatar = await normalizeAvatar(await framed(), { crop: 'contain', background: '#00ff00' });
    await expectValidAvatar(avatar, 'jpeg');
    expectColour(await pixelAt(avatar.data, 200, 2), [0, 255, 0]); // was transparent border
    expectColour(await pixelAt(avatar.data, 200, 200), [255, 0, 0]);
  });

  it('keeps a fully transparent image transparent in cover mode', async () => {
    const avatar = await normalizeAvatar(fixture('sharp/full-transparent.png'));
    await expectValidAvatar(avatar, 'png');
    expect((await pixelAt(avatar.data, 0, 0))[3]).toBe(0);
  });
});

describe('metadata', () => {
  it('drops EXIF GPS coordinates', async () => {
    const input = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } })
      .jpeg()
      .withExif({
        IFD0: { ImageDescription: 'home-address-marker' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
      })
      .toBuffer();
    const exif = (await sharp(input).metadata()).exif;
    expect(exif?.includes('home-address-marker')).toBe(true);
    expect(exif?.includes(Buffer.from([0x25, 0x88])) || exif?.includes(Buffer.from([0x88, 0x25]))).toBe(true); // GPS IFD pointer

    const avatar = await normalizeAvatar(input);
    const after = await sharp(avatar.data).metadata();
    expect(after.exif).toBeUndefined();
    expect(avatar.data.includes('home-address-marker')).toBe(false);
    expect(avatar.data.includes('Exif')).toBe(false);
  });
});

describe('output size', () => {
  it('keeps random RGBA noise (the worst case for PNG) under 700 KB', async () => {
    const noise = await sharp(randomBytes(400 * 400 * 4), { raw: { width: 400, height: 400, channels: 4 } }).png().toBuffer();
    const avatar = await normalizeAvatar(noise, { crop: 'centre' });
    await expectValidAvatar(avatar, 'png');
  });

  describe('the size guard, with smaller budgets', () => {
    const white = { r: 255, g: 255, b: 255 };
    const noisyRgba = { pixels: randomBytes(400 * 400 * 4), channels: 4 as const };

    it('falls back to a palette PNG', async () => {
      const { data, format } = await encodeAvatar(noisyRgba, white, 600 * 1024);
      expect(format).toBe('png');
      expect(data.length).toBeLessThan(600 * 1024);
      expect((await sharp(data).metadata()).isPalette).toBe(true);
    });

    it('flattens to JPEG as a last resort', async () => {
      const { data, format } = await encodeAvatar(noisyRgba, white, 100 * 1024);
      expect(format).toBe('jpeg');
      expect(data.length).toBeLessThan(100 * 1024);
    });

    it('lowers JPEG quality until it fits', async () => {
      const noisyRgb = { pixels: randomBytes(400 * 400 * 3), channels: 3 as const };
      const first = await encodeAvatar(noisyRgb, white);
      const smaller = await encodeAvatar(noisyRgb, white, first.data.length);
      expect(smaller.format).toBe('jpeg');
      expect(smaller.data.length).toBeLessThan(first.data.length);
    });
  });
});

describe('background option', () => {
  it('parses #rrggbb in either case', () => {
    expect(parseBackground('#1DA1f2')).toEqual({ r: 0x1d, g: 0xa1, b: 0xf2 });
    expect(parseBackground('#000000')).toEqual({ r: 0, g: 0, b: 0 });
  });

  it.each(['blue', '#fff', '#12345g', '1da1f2', '', '#1da1f2 '])('refuses %j with a sentence', (value) => {
    let error: unknown;
    try {
      parseBackground(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BackgroundColourError);
    expect((error as BackgroundColourError).kind).toBe('invalid-background');
    expect((error as BackgroundColourError).userMessage).toMatch(/#1da1f2/);
  });

  it('makes normalizeAvatar reject before any image work', async () => {
    const error = await rejectionOf(normalizeAvatar(await solidPng(8, 8, '#000000'), { background: 'red' }));
    expect(error).toBeInstanceOf(BackgroundColourError);
  });
});

describe('detectImageFormat', () => {
  const cases: Array<[string, number[] | string, string | undefined]> = [
    ['JPEG', [0xff, 0xd8, 0xff, 0xdb], 'jpeg'],
    ['PNG', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'png'],
    ['GIF87a', 'GIF87a', 'gif'],
    ['WebP', 'RIFF\x10\x00\x00\x00WEBPVP8 ', 'webp'],
    ['TIFF (big-endian)', [0x4d, 0x4d, 0x00, 0x2a], 'tiff'],
    ['BMP', 'BM'.padEnd(30, '\x00'), 'bmp'],
    ['SVG with XML prolog', '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', 'svg'],
    ['PDF', '%PDF-1.7', 'pdf'],
    ['AVIF', '\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf', 'avif'],
    ['MP4 video', '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2', 'video'],
    ['text', 'just some text', undefined],
    ['too short', [0xff], undefined],
  ];

  it.each(cases)('%s', (_name, bytes, expected) => {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
    expect(detectImageFormat(buffer)).toBe(expected);
  });
});

describe('concurrency', () => {
  function deferred(): { promise: Promise<void>; resolve: () => void } {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  }

  it('never runs more than N jobs at once, and starts them in order', async () => {
    const limiter = createLimiter(3);
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 10 }, deferred);
    const results = gates.map((gate, i) =>
      limiter.run(async () => {
        started.push(i);
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await gate.promise;
        inFlight -= 1;
        if (i === 4) throw new Error('job 4 fails');
        return i;
      }),
    );
    const allSettled = Promise.allSettled(results); // observe the failing job's rejection from the start
    expect([limiter.active, limiter.queued]).toEqual([3, 7]);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);

    for (const gate of gates) {
      gate.resolve();
      await new Promise((r) => setImmediate(r));
      expect(inFlight).toBeLessThanOrEqual(3);
    }
    const settled = await allSettled;
    expect(peak).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(settled[4]?.status).toBe('rejected'); // a failing job frees its slot
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(9);
    expect([limiter.active, limiter.queued]).toEqual([0, 0]);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
    expect(() => createLimiter(1.5)).toThrow(RangeError);
  });

  it('bounds how many images sharp processes at once', async () => {
    // In a child process of its own: sharp's counters are per process, and a test worker that ran another
    // file before (a bot whose X server decodes uploads) may still have sharp work of its own in flight.
    const script = `
      import sharp from 'sharp';
      import { readFileSync } from 'node:fs';
      import { createAvatarNormalizer } from './dist/src/avatar/normalize.js';
      const normalizer = createAvatarNormalizer({ concurrency: 1 });
      const photo = readFileSync(${JSON.stringify(join(FIXTURES, 'sharp', 'flowers.jpeg'))});
      let peakSharp = 0;
      let peakActive = 0;
      const sample = setInterval(() => {
        // Images libvips is working on (queued ones wait for a thread; a finished image's count drops a
        // moment after the next one is queued, so queue + process can read 2 for one image at a time).
        peakSharp = Math.max(peakSharp, sharp.counters().process);
        peakActive = Math.max(peakActive, normalizer.active);
      }, 1);
      const jobs = Array.from({ length: 4 }, () => normalizer.normalize(photo, { crop: 'centre' }));
      const atStart = [normalizer.active, normalizer.queued];
      const formats = (await Promise.all(jobs)).map((avatar) => avatar.format);
      clearInterval(sample);
      console.log(JSON.stringify({ atStart, formats, peakSharp, peakActive, atEnd: [normalizer.active, normalizer.queued] }));
    `;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(FIXTURES, '..', '..', '..') });
    const result = JSON.parse(stdout) as { atStart: number[]; formats: string[]; peakSharp: number; peakActive: number; atEnd: number[] };
    expect(result.atStart).toEqual([1, 3]);
    expect(result.formats).toEqual(['jpeg', 'jpeg', 'jpeg', 'jpeg']);
    expect(result.peakActive).toBe(1);
    expect(result.peakSharp).toBeLessThanOrEqual(1);
    expect(result.atEnd).toEqual([0, 0]);
  });

  it('rejects cheap failures without waiting for a slot', async () => {
    const normalizer = createAvatarNormalizer({ concurrency: 1 });
    const busy = normalizer.normalize(fixture('sharp/flowers.jpeg'));
    await expectImageError(normalizer.normalize(Buffer.alloc(0)), 'empty');
    expect(normalizer.queued).toBe(0);
    await busy;
  });
});
