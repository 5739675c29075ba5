import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { rejectionOf } from '../support/rejection.js';
import {
  AVATAR_SIZE,
  BANNER_HEIGHT,
  BANNER_WIDTH,
  ImageError,
  type ImageErrorKind,
  MAX_BANNER_BYTES,
  MAX_OUTPUT_BYTES,
  normalizeAvatar,
  normalizeBanner,
} from '../../src/avatar/normalize.js';

/** Every real-world file in test/fixtures/images goes through the pipeline (see its README.md), for each target. */
const TARGETS = [
  { target: 'avatar', normalize: normalizeAvatar, width: AVATAR_SIZE, height: AVATAR_SIZE, maxBytes: MAX_OUTPUT_BYTES },
  { target: 'banner', normalize: normalizeBanner, width: BANNER_WIDTH, height: BANNER_HEIGHT, maxBytes: MAX_BANNER_BYTES },
] as const;

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'images');

const files = readdirSync(FIXTURES, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name !== 'README.md')
  .map((entry) => relative(FIXTURES, join(entry.parentPath, entry.name)).split(sep).join('/'))
  .sort();

interface Rejection {
  kind: ImageErrorKind;
  /** Something the user's sentence must say. */
  says?: RegExp;
}

const REJECTED: Record<string, Rejection> = {
  'sharp/truncated.jpg': { kind: 'corrupt' },
  'sharp/truncated.png': { kind: 'corrupt' },
  'sharp/corrupt-header.jpg': { kind: 'corrupt' },
  // 20000x14000 in 1 MB: refused from the header, before any pixel is allocated.
  'sharp/giant-image.jpg': { kind: 'too-many-pixels', says: /20000x14000/ },
  // A valid header claiming 65536x65536 (its width*height overflows uint32): 4.3 gigapixels.
  'sharp/65536-uint32-limit.png': { kind: 'too-many-pixels', says: /65536x65536/ },
  'sharp/check.svg': { kind: 'unsupported-format', says: /an SVG image; send a JPG, PNG, GIF or WebP/ },
  'sharp/pitm.avif': { kind: 'unsupported-format', says: /an AVIF image; send a JPG, PNG, GIF or WebP/ },
  'sharp/G31D.TIF': { kind: 'unsupported-format', says: /a TIFF image; send a JPG, PNG, GIF or WebP/ },
  'sharp/relax.jp2': { kind: 'unsupported-format', says: /a JPEG 2000 image; send a JPG, PNG, GIF or WebP/ },
};

/**
 * PngSuite's x* files are deliberately broken and all of them must be refused as 'corrupt'. libpng reads
 * the header of two of them (xcsn0g01: bad IDAT checksum; xhdn0g08: bad IHDR CRC, only a warning) but
 * fails decoding them under failOn 'warning'. Seven have a damaged 8-byte signature (xs*, xcr*, xlf*):
 * no magic number matches, but their IHDR chunk identifies them as broken PNGs rather than an unknown format.
 */
function expectedRejection(file: string): Rejection | undefined {
  if (/^pngsuite\/x[^/]*\.png$/.test(file)) return { kind: 'corrupt' };
  return REJECTED[file];
}

const rejectedCases = files.flatMap((file) => {
  const rejection = expectedRejection(file);
  return rejection ? [{ file, ...rejection }] : [];
});
const acceptedCases = files.filter((file) => !expectedRejection(file)).map((file) => ({ file }));

function read(file: string): Buffer {
  return readFileSync(join(FIXTURES, file));
}


describe('real-world fixtures', () => {
  it('finds the whole fixture set', () => {
    expect(files.filter((file) => file.startsWith('pngsuite/'))).toHaveLength(175);
    expect(files.length).toBeGreaterThan(200);
    expect(rejectedCases.filter((c) => c.file.startsWith('pngsuite/'))).toHaveLength(14);
  });
});

describe.each(TARGETS)('real-world fixtures as the $target', ({ normalize, width, height, maxBytes }) => {
  it.each(rejectedCases)('refuses $file as $kind', async ({ file, kind, says }) => {
    const error = await rejectionOf(normalize(read(file)));
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).kind).toBe(kind);
    if (says) expect((error as ImageError).userMessage).toMatch(says);
  });

  it.each(acceptedCases)('turns $file into an image X accepts', async ({ file }) => {
    const input = read(file);
    const image = await normalize(input);

    expect(image.width).toBe(width);
    expect(image.height).toBe(height);
    expect(image.bytes).toBe(image.data.length);
    expect(image.bytes).toBeLessThan(maxBytes);

    const out = await sharp(image.data).metadata();
    expect(out.format).toBe(image.format);
    expect([out.width, out.height]).toEqual([width, height]);
    expect(out.space).toBe('srgb');
    expect(out.depth).toBe('uchar');
    expect(out.exif).toBeUndefined();
    expect(out.icc).toBeUndefined();
    expect(out.xmp).toBeUndefined();
    expect(out.iptc).toBeUndefined();

    // PNG only when the image really has transparent pixels; an input without alpha is always JPEG.
    const { data, info } = await sharp(image.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    let transparent = false;
    for (let i = info.channels - 1; i < data.length && !transparent; i += info.channels) transparent = data[i] !== 255;
    expect(image.format).toBe(transparent ? 'png' : 'jpeg');
    if (!(await sharp(input).metadata()).hasAlpha) expect(image.format).toBe('jpeg');
  });

  describe('EXIF orientation', () => {
    /** Mean absolute difference per pixel between two images, compared as 32x32 greyscale. */
    async function difference(a: Buffer, b: Buffer): Promise<number> {
      const thumb = (image: Buffer) => sharp(image).resize(32, 32, { fit: 'fill' }).greyscale().raw().toBuffer();
      const [x, y] = await Promise.all([thumb(a), thumb(b)]);
      let sum = 0;
      for (let i = 0; i < x.length; i += 1) sum += Math.abs(x[i]! - y[i]!);
      return sum / x.length;
    }

    const orientations = [2, 3, 4, 5, 6, 7, 8].map((n) => ({ file: `sharp/Landscape_${n}.jpg` }));

    it.each(orientations)('$file looks like Landscape_1.jpg', async ({ file }) => {
      const reference = await normalize(read('sharp/Landscape_1.jpg'));
      const rotated = await normalize(read(file));
      expect(await difference(rotated.data, reference.data)).toBeLessThan(3);
    });

    it('would differ without auto-orientation (the comparison has teeth)', async () => {
      const reference = await normalize(read('sharp/Landscape_1.jpg'));
      const unrotated = await sharp(read('sharp/Landscape_3.jpg')).resize(width, height).jpeg().toBuffer();
      expect(await difference(unrotated, reference.data)).toBeGreaterThan(10);
    });
  });

  describe('metadata', () => {
    it('drops the EXIF, IPTC and XMP that Landscape_9.jpg carries', async () => {
      const input = read('sharp/Landscape_9.jpg');
      const before = await sharp(input).metadata();
      expect(before.exif).toBeDefined();
      expect(before.iptc).toBeDefined();
      expect(before.xmp).toBeDefined();

      const after = await sharp((await normalize(input)).data).metadata();
      expect(after.exif).toBeUndefined();
      expect(after.iptc).toBeUndefined();
      expect(after.xmp).toBeUndefined();
    });
  });
});
