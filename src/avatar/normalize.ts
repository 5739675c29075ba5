/**
 * Turns an untrusted upload into an image X accepts for a profile: a 400x400 avatar under 700 KB, or a
 * 1500x500 banner under 5 MB; JPEG or PNG, sRGB, 8-bit, no metadata. Both targets share every check,
 * limit and the decoder; only the output size, byte limit and crop budget differ. Knows nothing about
 * Discord or X beyond those numbers.
 */
import sharp, { type Channels, type Metadata, type ResizeOptions, type Sharp, type SharpOptions } from 'sharp';
import { UserFacingError } from '../errors.js';
import {
  type AcceptedFormat,
  detectImageFormat,
  isAcceptedFormat,
  looksLikeDamagedPng,
} from './formats.js';
import { createLimiter } from '../coordination/limiter.js';
import { type ImageStructure, isDamaged, isOverlong, layoutWords, readStructure } from './structure.js';

export { detectImageFormat, type DetectedFormat } from './formats.js';
export { createLimiter, type Limiter } from '../coordination/limiter.js';

export const AVATAR_SIZE = 400;
export const MAX_INPUT_BYTES = 25 * 1024 * 1024;
/** Outputs are strictly smaller than this. */
export const MAX_OUTPUT_BYTES = 700 * 1024;
export const MAX_INPUT_PIXELS = 50_000_000;
/** X's recommended header size (3:1). */
export const BANNER_WIDTH = 1500;
export const BANNER_HEIGHT = 500;
/**
 * X's help centre allows header images up to 5 MB (update_profile_banner answers 422 "too large"). Taken as
 * decimal megabytes, the stricter reading; outputs are strictly smaller. The JPEG ladder starting at
 * quality 85 keeps photos far lower (the benchmark's 12 MP photo: 36 KB; random noise: 0.6 MB); a PNG,
 * kept only for transparency, is at most about 3 MB (1500x500 RGBA noise: 2.6 MB).
 */
export const MAX_BANNER_BYTES = 5_000_000;
/**
 * Animations: libvips reads every frame's header before the first frame (WebP: in quadratic time,
 * 10,000 frames took 0.6 s of CPU, 100,000 took 33 s). 5,000 frames is over 8 minutes at 10 fps.
 */
export const MAX_FRAMES = 5_000;
/** Real progressive JPEGs have about 10 scans; libjpeg-turbo's own tools cap them at 500. */
export const MAX_JPEG_SCANS = 100;
/**
 * A progressive decoder visits every block of a component in every scan of it: 2,647 scans of a
 * 7071x7071 file are 2 billion visits (37 s). 50 million is under a second here (12-18 ns each).
 */
const MAX_JPEG_BLOCK_VISITS = 50_000_000;
/**
 * What one decode may hold (structure.ts estimates it per file), and what all concurrent decodes of a
 * normaliser may hold together: with an idle process at about 60 MB, peak RSS stays under 300 MB.
 */
export const MAX_DECODE_BYTES = 200 * 1024 * 1024;
/**
 * A backstop, not the bound: the structure checks above keep every allowed file under 3 s of CPU.
 * libvips measures wall time and checks it between strips of output, so it cannot cut one monolithic
 * step short, and at 2 s it refused a legitimate 5500x5500 interlaced PNG on a busy 2-core machine.
 */
const DECODE_TIMEOUT_SECONDS = 10;

const DEFAULT_BACKGROUND = '#ffffff';
const JPEG_QUALITIES = [85, 75, 65, 50, 35, 20];

// Process-wide: only these four decoders may run, whatever the bytes claim to be. Everything else
// (SVG, AVIF/HEIF, TIFF, PDF, JPEG 2000, file and stream loaders, ...) is refused by libvips itself.
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({
  operation: [
    'VipsForeignLoadJpegBuffer',
    'VipsForeignLoadPngBuffer',
    'VipsForeignLoadNsgifBuffer',
    'VipsForeignLoadWebpBuffer',
  ],
});

export type CropMode = 'attention' | 'centre' | 'contain';

export interface NormalizeOptions {
  /** How a non-square image becomes square. Default 'attention' (crop around the most interesting part). */
  crop?: CropMode;
  /** '#rrggbb'; fills the margins in 'contain' mode and replaces transparency when it must go. Default white. */
  background?: string;
}

export interface Avatar {
  data: Buffer;
  format: 'jpeg' | 'png';
  width: typeof AVATAR_SIZE;
  height: typeof AVATAR_SIZE;
  bytes: number;
}

export interface Banner {
  data: Buffer;
  format: 'jpeg' | 'png';
  width: typeof BANNER_WIDTH;
  height: typeof BANNER_HEIGHT;
  bytes: number;
}

/**
 * What an output is: its size, its byte limit, and how big the covering image may get before an
 * 'attention' crop falls back to the centre (see cropPosition).
 */
interface Target {
  width: number;
  height: number;
  maxBytes: number;
  maxAttentionPixels: number;
}

export const IMAGE_ERROR_KINDS = ['empty', 'too-large', 'unsupported-format', 'corrupt', 'too-many-pixels', 'too-many-frames', 'too-complex', 'invalid-background'] as const;
export type ImageErrorKind = Exclude<(typeof IMAGE_ERROR_KINDS)[number], 'invalid-background'>;

/** The upload can't become an avatar; `userMessage` says why and what to send instead. */
export class ImageError extends UserFacingError<ImageErrorKind> {}

/**
 * The `background` option isn't a colour. Thrown by parseBackground and, before any image work, by
 * normalizeAvatar; it is a UserFacingError because the colour may come straight from a command option.
 */
export class BackgroundColourError extends UserFacingError<'invalid-background'> {}

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** Parses '#rrggbb' (case-insensitive). Throws BackgroundColourError for anything else. */
export function parseBackground(value: string): Rgb {
  const hex = /^#([0-9a-f]{6})$/i.exec(value)?.[1];
  if (hex === undefined) {
    throw new BackgroundColourError('invalid-background', {}, { detail: `got ${JSON.stringify(value.slice(0, 40))}` });
  }
  const rgb = parseInt(hex, 16);
  return { r: rgb >> 16, g: (rgb >> 8) & 0xff, b: rgb & 0xff };
}

interface CheckedInput {
  buffer: Buffer;
  format: AcceptedFormat;
  crop: CropMode;
  background: Rgb;
  structure: ImageStructure;
}

/** Rounded up, so a file just over the limit never reads as "25 MB". */
export function formatMegabytes(bytes: number): string {
  const tenths = Math.ceil((bytes / (1024 * 1024)) * 10);
  return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)} MB`;
}

/** The cheap checks that need no decoder: size, magic bytes, options, then the file's structure. */
function checkInput(input: Buffer | Uint8Array, options: NormalizeOptions): CheckedInput {
  const background = parseBackground(options.background ?? DEFAULT_BACKGROUND);
  const crop = options.crop ?? 'attention';
  const buffer = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);

  if (buffer.length === 0) {
    throw new ImageError('empty');
  }
  if (buffer.length > MAX_INPUT_BYTES) {
    throw new ImageError('too-large', { size: formatMegabytes(buffer.length), max: formatMegabytes(MAX_INPUT_BYTES) });
  }

  const detected = detectImageFormat(buffer);
  if (detected === undefined) {
    if (looksLikeDamagedPng(buffer)) throw corrupt('damaged PNG signature');
    throw new ImageError('unsupported-format');
  }
  if (detected === 'heic') {
    throw new ImageError('unsupported-format', {}, { variant: 'heic', detail: 'heic' });
  }
  if (!isAcceptedFormat(detected)) {
    throw new ImageError('unsupported-format', { format: detected }, { variant: 'detected', detail: detected });
  }
  return { buffer, format: detected, crop, background, structure: checkStructure(buffer, detected) };
}

/**
 * Chunks, markers or GIF data blocks walked: real files have dozens plus a few per frame (a 25 MB GIF
 * in 255-byte blocks: 100,000). 25 MB of empty PNG chunks are 2 million (1.2 s before this cap; at the
 * cap the walk takes under 10 ms).
 */
const MAX_PARTS = 200_000;
const LIMITS = { maxFrames: MAX_FRAMES, maxScans: MAX_JPEG_SCANS, maxParts: MAX_PARTS };
const megabytes = (bytes: number) => Math.ceil(bytes / (1024 * 1024));

/**
 * Refuses, from the container alone, what would cost a decoder too much: too many pixels, frames or
 * JPEG scans, or more memory than MAX_DECODE_BYTES (interlaced PNG and progressive JPEG are held whole,
 * animation canvases too). A few ms for 25 MB; this is what makes metadata() and the decode cheap.
 */
function checkStructure(buffer: Buffer, format: AcceptedFormat): ImageStructure {
  const structure = readStructure(buffer, format, LIMITS);
  if (isDamaged(structure)) throw corrupt(structure.damaged);
  if (isOverlong(structure)) {
    throw new ImageError('too-complex', { max: MAX_PARTS }, { variant: 'parts', detail: structure.overlong });
  }
  const { width, height, frames, scans, blockVisits, decodeBytes, layout, bitDepth } = structure;
  if (!width || !height) throw corrupt('no dimensions in header');
  if (width * height > MAX_INPUT_PIXELS) throw tooManyPixels(width, height);
  if (frames > MAX_FRAMES) {
    throw new ImageError('too-many-frames', { max: MAX_FRAMES }, { detail: `${layoutWords(structure)}, ${frames} frames or more` });
  }
  if (scans > MAX_JPEG_SCANS || blockVisits > MAX_JPEG_BLOCK_VISITS) {
    const detail = `${width}x${height}, ${scans} scans, ${blockVisits} block visits`;
    throw scans > MAX_JPEG_SCANS
      ? new ImageError('too-complex', { max: MAX_JPEG_SCANS }, { variant: 'scans-over', detail })
      : new ImageError('too-complex', { scans }, { variant: 'scans', detail });
  }
  if (decodeBytes > MAX_DECODE_BYTES) {
    throw new ImageError(
      'too-complex',
      { width, height, layout, bitDepth, megabytes: megabytes(decodeBytes), max: megabytes(MAX_DECODE_BYTES) },
      { variant: 'memory', detail: `${layoutWords(structure)}, estimated ${decodeBytes} bytes` },
    );
  }
  return structure;
}

function corrupt(detail: string, cause?: unknown): ImageError {
  return new ImageError('corrupt', {}, { cause, detail });
}

function tooManyPixels(width: number, height: number): ImageError {
  const megapixels = Math.round((width * height) / 1_000_000);
  return new ImageError('too-many-pixels', { width, height, megapixels, max: MAX_INPUT_PIXELS / 1_000_000 });
}

/**
 * Decoder options for untrusted input: reject on any decoder warning (truncation), first frame only,
 * EXIF orientation applied, and a pixel cap as the real bound on memory and time.
 */
const INPUT_OPTIONS: SharpOptions = {
  failOn: 'warning',
  limitInputPixels: MAX_INPUT_PIXELS,
  autoOrient: true,
  pages: 1,
  page: 0,
};

/** Reads the header only (no pixels), so huge dimensions are refused before anything is allocated. */
async function checkHeader({ buffer, format }: CheckedInput): Promise<{ width: number; height: number }> {
  let metadata: Metadata;
  try {
    // No pixel limit here: sharp would refuse with a generic message; we refuse below with the numbers.
    metadata = await sharp(buffer, { ...INPUT_OPTIONS, limitInputPixels: false }).metadata();
  } catch (error) {
    throw corrupt(errorMessage(error), error);
  }
  if (metadata.format !== format) {
    throw corrupt(`content starts like ${format} but decodes as ${String(metadata.format)}`);
  }
  const { width, height } = metadata;
  if (!width || !height) throw corrupt('no dimensions in header');
  const frameHeight = metadata.pageHeight ?? height; // one frame of an animation
  if (width * frameHeight > MAX_INPUT_PIXELS) throw tooManyPixels(width, frameHeight);
  return { width, height: frameHeight };
}

/**
 * 'attention' scores every pixel of the covering image before cropping it, and that image is
 * 400 x (400 x aspect ratio): a 10000x10 strip becomes 160 MP and took 6.7 s (50000x2: 216 s, 2 GB).
 * Past this size the crop falls back to the centre, which libvips computes lazily (a few ms).
 */
const MAX_ATTENTION_PIXELS = 2_000_000; // aspect ratio up to 12.5:1

const AVATAR_TARGET: Target = { width: AVATAR_SIZE, height: AVATAR_SIZE, maxBytes: MAX_OUTPUT_BYTES, maxAttentionPixels: MAX_ATTENTION_PIXELS };
/**
 * A banner's cover is 1500 wide: a square photo is 1500x1500 (2.25 MP), a 9:16 phone portrait 1500x2667
 * (4 MP). 6 MP keeps 'attention' for portraits up to 1:2.7 (a 2250x6000 photo: 143 ms of CPU, 56 ms with the
 * centre); taller strips use the centre.
 */
const BANNER_TARGET: Target = { width: BANNER_WIDTH, height: BANNER_HEIGHT, maxBytes: MAX_BANNER_BYTES, maxAttentionPixels: 6_000_000 };

/** The covering image's pixels: the input scaled so that it covers the target on both sides. */
function cropPosition(crop: 'attention' | 'centre', { width, height }: { width: number; height: number }, target: Target): string {
  // Scaled to the target's width it is tw x (tw * h / w), to its height (th * w / h) x th: the larger covers.
  const coverPixels = Math.max((target.width * target.width * height) / width, (target.height * target.height * width) / height);
  return crop === 'attention' && coverPixels <= target.maxAttentionPixels ? 'attention' : 'centre';
}

export interface RawAvatar {
  pixels: Buffer;
  channels: Channels;
}

/** One decode: straight to the target's 8-bit sRGB raw pixels (resize first so JPEG shrink-on-load applies). */
async function decodeToTarget(
  { buffer, crop, background }: CheckedInput,
  size: { width: number; height: number },
  target: Target,
): Promise<RawAvatar> {
  const resize: ResizeOptions =
    crop === 'contain'
      ? { fit: 'contain', background: { ...background, alpha: 1 } }
      : { fit: 'cover', position: cropPosition(crop, size, target) };
  let image = sharp(buffer, INPUT_OPTIONS).timeout({ seconds: DECODE_TIMEOUT_SECONDS }).resize(target.width, target.height, resize);
  if (crop === 'contain') image = image.flatten({ background }); // the whole frame sits on the colour
  const { data, info } = await image.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== target.width || info.height !== target.height || data.length !== target.width * target.height * info.channels) {
    throw new Error(`unexpected raw output ${info.width}x${info.height}x${info.channels}`);
  }
  return { pixels: data, channels: info.channels };
}

function hasTransparency({ pixels, channels }: RawAvatar): boolean {
  if (channels !== 2 && channels !== 4) return false;
  for (let i = channels - 1; i < pixels.length; i += channels) {
    if (pixels[i] !== 255) return true;
  }
  return false;
}

async function encodeJpeg(image: () => Sharp, maxBytes: number, { width, height }: Target): Promise<Buffer> {
  for (const quality of JPEG_QUALITIES) {
    const data = await image().jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:2:0' }).toBuffer();
    if (data.length < maxBytes) return data;
  }
  // At quality 20 a 400x400 JPEG is a few tens of KB and a 1500x500 one a few hundred, whatever the
  // content: only a tiny budget gets here.
  throw new Error(`cannot encode a ${width}x${height} JPEG under ${maxBytes} bytes`);
}

/**
 * Encodes 400x400 raw pixels: PNG if any pixel is transparent, else JPEG, always under `maxBytes`
 * (strictly). Exported so the size guard can be exercised with a small budget.
 */
export function encodeAvatar(raw: RawAvatar, background: Rgb, maxBytes: number = MAX_OUTPUT_BYTES): Promise<{ data: Buffer; format: 'jpeg' | 'png' }> {
  return encodeTarget(raw, background, { ...AVATAR_TARGET, maxBytes });
}

/** encodeAvatar for 1500x500 banner pixels (limit MAX_BANNER_BYTES unless given). */
export function encodeBanner(raw: RawAvatar, background: Rgb, maxBytes: number = MAX_BANNER_BYTES): Promise<{ data: Buffer; format: 'jpeg' | 'png' }> {
  return encodeTarget(raw, background, { ...BANNER_TARGET, maxBytes });
}

async function encodeTarget(raw: RawAvatar, background: Rgb, target: Target): Promise<{ data: Buffer; format: 'jpeg' | 'png' }> {
  const { maxBytes } = target;
  const image = () => sharp(raw.pixels, { raw: { width: target.width, height: target.height, channels: raw.channels } });
  if (hasTransparency(raw)) {
    const png = await image().png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    if (png.length < maxBytes) return { data: png, format: 'png' };
    // Effort 1: quantisation at high effort is seconds of CPU on noisy input.
    const palette = await image().png({ palette: true, effort: 1, compressionLevel: 6 }).toBuffer();
    if (palette.length < maxBytes) return { data: palette, format: 'png' };
    return { data: await encodeJpeg(() => image().flatten({ background }), maxBytes, target), format: 'jpeg' };
  }
  return { data: await encodeJpeg(() => image().removeAlpha(), maxBytes, target), format: 'jpeg' };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function render(checked: CheckedInput, target: Target): Promise<{ data: Buffer; format: 'jpeg' | 'png'; bytes: number }> {
  try {
    const size = await checkHeader(checked);
    const raw = await decodeToTarget(checked, size, target);
    const { data, format } = await encodeTarget(raw, checked.background, target);
    return { data, format, bytes: data.length };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    // Our header check runs first, so this is only a backstop for headers that lie about their size.
    if (/^timeout:/.test(errorMessage(error))) {
      throw new ImageError('too-complex', {}, { cause: error, detail: `${layoutWords(checked.structure)}, ${errorMessage(error)}` });
    }
    if (/exceeds pixel limit/i.test(errorMessage(error))) {
      throw new ImageError('too-many-pixels', { max: MAX_INPUT_PIXELS / 1_000_000 }, { variant: 'decoder', cause: error });
    }
    throw corrupt(errorMessage(error), error);
  }
}

/**
 * Normalises an upload into an avatar. Rejects bad input only with ImageError (and a bad `background`
 * option with BackgroundColourError), never with a decoder's own error.
 */
export async function normalizeAvatar(input: Buffer | Uint8Array, options: NormalizeOptions = {}): Promise<Avatar> {
  return asAvatar(await render(checkInput(input, options), AVATAR_TARGET));
}

/**
 * Normalises an upload into a 1500x500 banner (X's header): the same checks, decoder and guarantees as
 * normalizeAvatar; `crop` fits the image to 3:1 instead of a square, and the output is under 5 MB.
 */
export async function normalizeBanner(input: Buffer | Uint8Array, options: NormalizeOptions = {}): Promise<Banner> {
  return asBanner(await render(checkInput(input, options), BANNER_TARGET));
}

const asAvatar = (image: { data: Buffer; format: 'jpeg' | 'png'; bytes: number }): Avatar => ({ ...image, width: AVATAR_SIZE, height: AVATAR_SIZE });
const asBanner = (image: { data: Buffer; format: 'jpeg' | 'png'; bytes: number }): Banner => ({ ...image, width: BANNER_WIDTH, height: BANNER_HEIGHT });

export interface AvatarNormalizer {
  normalize(input: Buffer | Uint8Array, options?: NormalizeOptions): Promise<Avatar>;
  /** The same for a 1500x500 banner, sharing the slots and the memory budget with avatars. */
  banner(input: Buffer | Uint8Array, options?: NormalizeOptions): Promise<Banner>;
  /** Images being decoded or encoded now. */
  readonly active: number;
  /** Images waiting for a slot. */
  readonly queued: number;
}

/** Told of every image normalised or refused (`error`), in seconds with the wait for a slot: the bot's metrics. */
export type NormalizeObserver = (target: 'avatar' | 'banner', seconds: number, error: unknown) => void;

async function observed<T>(target: 'avatar' | 'banner', observe: NormalizeObserver | undefined, work: () => Promise<T>): Promise<T> {
  if (!observe) return work();
  const started = performance.now();
  try {
    const result = await work();
    observe(target, (performance.now() - started) / 1000, undefined);
    return result;
  } catch (error) {
    observe(target, (performance.now() - started) / 1000, error);
    throw error;
  }
}

/**
 * normalizeAvatar with at most `concurrency` images decoded at once (config IMAGE_CONCURRENCY) and at
 * most `memoryBudget` bytes of estimated decoder memory between them, so two heavy images never decode
 * together while small ones still run beside a heavy one. Cheap rejections (empty, too large, wrong
 * format, the structure checks) don't wait for a slot.
 */
export function createAvatarNormalizer({
  concurrency = 2,
  memoryBudget = MAX_DECODE_BYTES,
  observe,
}: { concurrency?: number; memoryBudget?: number; observe?: NormalizeObserver } = {}): AvatarNormalizer {
  const limiter = createLimiter(concurrency, memoryBudget);
  return {
    normalize: (input, options = {}) =>
      observed('avatar', observe, async () => {
        const checked = checkInput(input, options);
        return asAvatar(await limiter.run(() => render(checked, AVATAR_TARGET), checked.structure.decodeBytes));
      }),
    banner: (input, options = {}) =>
      observed('banner', observe, async () => {
        const checked = checkInput(input, options);
        return asBanner(await limiter.run(() => render(checked, BANNER_TARGET), checked.structure.decodeBytes));
      }),
    get active() {
      return limiter.active;
    },
    get queued() {
      return limiter.queued;
    },
  };
}
