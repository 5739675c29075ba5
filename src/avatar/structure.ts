/**
 * Reads an image's container structure without decoding a pixel: dimensions, frames, JPEG scans, PNG
 * bit depth and interlacing, WebP and GIF canvases. One pass over the bytes, each step a bounds-checked
 * read, with early exit once a count passes its limit: a 25 MB file takes a few ms.
 *
 * From the structure, `decodeCost` estimates what libvips must hold and do to decode the file the way
 * it decodes it, so that files whose headers look harmless but whose layout is a bomb (217,000
 * animation frames, 2,647 JPEG scans, a 16-bit interlaced PNG, a huge canvas around a 1x1 frame) are
 * refused before libvips sees them.
 */
import type { AcceptedFormat } from './formats.js';

export interface ImageStructure {
  format: AcceptedFormat;
  /** What the decoder allocates for one frame: the canvas (WebP, GIF) or the image. */
  width: number;
  height: number;
  /** Animation frames; 1 for a still image. Stops counting past the walk's `maxFrames`. */
  frames: number;
  /** Bytes the decoder holds at once for the whole first frame, estimated from how libvips decodes it. */
  decodeBytes: number;
  /** JPEG: scans, and blocks visited over all scans (a progressive decoder walks every block per scan). */
  scans: number;
  blockVisits: number;
  /** How the pixels are laid out, as an id each locale words (`layout.*` in src/i18n/<locale>/words.ts). */
  layout: LayoutId;
  /** Bits per sample (PNG 1-16, JPEG 8 or 12; GIF and WebP 8). */
  bitDepth: number;
}

export const LAYOUT_IDS = ['png', 'interlaced-png', 'jpeg', 'progressive-jpeg', 'gif', 'animated-gif', 'webp', 'lossless-webp', 'animated-webp'] as const;
export type LayoutId = (typeof LAYOUT_IDS)[number];

const FORMAT_NAMES: Record<AcceptedFormat, string> = { png: 'PNG', jpeg: 'JPEG', gif: 'GIF', webp: 'WebP' };

/** English words for logs and an error's `detail` ("interlaced 16-bit PNG"); users read the id in their words. */
export function layoutWords({ format, layout, bitDepth }: Pick<ImageStructure, 'format' | 'layout' | 'bitDepth'>): string {
  const qualifier = layout === format ? '' : `${layout.slice(0, -format.length - 1)} `;
  return `${qualifier}${format === 'png' ? `${bitDepth}-bit ` : ''}${FORMAT_NAMES[format]}`;
}

/** The bytes are not a well-formed file of the format; `detail` says where. */
export interface DamagedStructure {
  damaged: string;
}

/**
 * More chunks, markers or blocks than any real file has (`maxParts`): the walk stopped there, so it
 * stays a few ms (25 MB of empty PNG chunks is 2 million of them).
 */
export interface OverlongStructure {
  overlong: string;
}

export type WalkResult = ImageStructure | DamagedStructure | OverlongStructure;

export interface WalkLimits {
  /** Stop counting frames (and JPEG scans) past these: the caller refuses anything over them anyway. */
  maxFrames: number;
  maxScans: number;
  maxParts: number;
}

/**
 * Decoders stream a non-interlaced PNG, a baseline JPEG (shrunk by up to 8 on load) and a lossy WebP a
 * strip at a time. Measured with `avatar-bot normalize` (VmHWM over the ~60 MB of an idle process):
 * a 7071x7071 RGBA PNG +65 MB, 16-bit RGBA +120 MB, a 50 MP baseline JPEG +27 MB. A third of the
 * full frame plus 24 MB covers them.
 */
const STREAMED_OVERHEAD = 24 * 1024 * 1024;
const streamed = (fullFrameBytes: number) => STREAMED_OVERHEAD + fullFrameBytes / 3;

/**
 * Whole-image buffers cost more than their size: measured +349 MB for a 7071x7071 16-bit RGB interlaced
 * PNG (300 MB of pixels, x1.16), +241 MB for RGBA 8-bit (200 MB, x1.21), +258 MB for a 7000x7000
 * WebP canvas (196 MB, x1.32), +68 MB for a 3000x3000 one (36 MB): a factor and the 24 MB constant.
 */
const HELD_FACTOR = 1.4;
const held = (bytes: number) => STREAMED_OVERHEAD + bytes * HELD_FACTOR;

const u16be = (b: Buffer, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32be = (b: Buffer, at: number) => b.readUInt32BE(at);
const u16le = (b: Buffer, at: number) => b[at]! | (b[at + 1]! << 8);
const u24le = (b: Buffer, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);

function still(
  format: AcceptedFormat,
  width: number,
  height: number,
  decodeBytes: number,
  layout: LayoutId,
  bitDepth = 8,
): ImageStructure {
  return { format, width, height, frames: 1, decodeBytes, scans: 0, blockVisits: 0, layout, bitDepth };
}

// ---------------------------------------------------------------------------------------------- PNG

/** Channels libspng hands libvips per colour type (palette expands to RGB), before a tRNS alpha. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

const fourcc = (text: string) => Buffer.from(text, 'latin1').readUInt32BE(0);
const [IEND, IDAT, TRNS, ACTL, FCTL] = ['IEND', 'IDAT', 'tRNS', 'acTL', 'fcTL'].map(fourcc);

function readPng(b: Buffer, limits: WalkLimits): WalkResult {
  if (b.length < 33 || b.toString('latin1', 12, 16) !== 'IHDR' || u32be(b, 8) !== 13) {
    return { damaged: 'PNG without IHDR first' };
  }
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const bitDepth = b[24]!;
  const colourType = b[25]!;
  const interlaced = b[28] === 1;
  let hasTransparencyChunk = false;
  let hasImageData = false;
  let declaredFrames = 0;
  let frameControls = 0;
  for (let at = 8, chunks = 1; at + 8 <= b.length; chunks += 1) {
    if (chunks > limits.maxParts) return { overlong: `more than ${limits.maxParts} PNG chunks` };
    const length = u32be(b, at);
    const type = u32be(b, at + 4);
    if (type === IEND) break;
    if (type === IDAT) hasImageData = true;
    else if (type === TRNS) hasTransparencyChunk = true;
    else if (type === ACTL && at + 12 <= b.length) declaredFrames = u32be(b, at + 8);
    else if (type === FCTL && ++frameControls > limits.maxFrames) break;
    at += 12 + length; // a length running past the end stops the walk: libspng calls that truncated
  }
  if (!hasImageData && frameControls <= limits.maxFrames) return { damaged: 'PNG without image data' };
  const channels = (PNG_CHANNELS[colourType] ?? 4) + (hasTransparencyChunk && colourType !== 4 && colourType !== 6 ? 1 : 0);
  const bytesPerSample = bitDepth === 16 ? 2 : 1;
  const frameBytes = width * height * channels * bytesPerSample;
  return {
    ...still('png', width, height, interlaced ? held(frameBytes) : streamed(frameBytes), interlaced ? 'interlaced-png' : 'png', bitDepth),
    // An APNG's frames are in its fcTL chunks; acTL only declares a count (libspng ignores both).
    frames: Math.max(1, frameControls, Math.min(declaredFrames, limits.maxFrames + 1)),
  };
}

// --------------------------------------------------------------------------------------------- JPEG

interface JpegComponent {
  id: number;
  blocks: number;
}

const isSof = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
const isProgressiveSof = (marker: number) => marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;

/** End of the entropy-coded data that starts at `at`: the next marker that is not a stuffed 0xFF00 or a restart. */
function endOfEntropyData(b: Buffer, at: number): number {
  for (let ff = b.indexOf(0xff, at); ff !== -1 && ff + 1 < b.length; ff = b.indexOf(0xff, ff + 1)) {
    const next = b[ff + 1]!;
    if (next !== 0x00 && next !== 0xff && (next < 0xd0 || next > 0xd7)) return ff;
  }
  return b.length;
}

function readJpeg(b: Buffer, limits: WalkLimits): WalkResult {
  let width = 0;
  let height = 0;
  let progressive = false;
  let precision = 8;
  let components: JpegComponent[] = [];
  let scans = 0;
  let blockVisits = 0;
  for (let at = 2, markers = 1; at + 4 <= b.length; markers += 1) {
    if (markers > limits.maxParts) return { overlong: `more than ${limits.maxParts} JPEG markers` };
    if (b[at] !== 0xff) return { damaged: `JPEG: no marker at byte ${at}` };
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd9) break; // EOI
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = u16be(b, at + 2);
    if (length < 2) return { damaged: 'JPEG: bad segment length' };
    const data = at + 4;
    if (isSof(marker)) {
      if (components.length > 0) return { damaged: 'JPEG with more than one frame header' };
      if (data + 6 > b.length) break;
      precision = b[data]!;
      height = u16be(b, data + 1);
      width = u16be(b, data + 3);
      progressive = isProgressiveSof(marker);
      const count = b[data + 5]!;
      const sampling = [];
      for (let i = 0; i < count && data + 8 + 3 * i < b.length; i += 1) {
        const factors = b[data + 7 + 3 * i]!;
        sampling.push({ id: b[data + 6 + 3 * i]!, h: factors >> 4 || 1, v: factors & 15 || 1 });
      }
      const hMax = Math.max(1, ...sampling.map((c) => c.h));
      const vMax = Math.max(1, ...sampling.map((c) => c.v));
      components = sampling.map(({ id, h, v }) => ({
        id,
        blocks: Math.ceil((width * h) / hMax / 8) * Math.ceil((height * v) / vMax / 8),
      }));
    } else if (marker === 0xda) {
      scans += 1;
      const count = b[data] ?? 0;
      for (let i = 0; i < count; i += 1) {
        blockVisits += components.find((c) => c.id === b[data + 1 + 2 * i])?.blocks ?? 0;
      }
      if (scans > limits.maxScans) break;
      at = endOfEntropyData(b, at + 2 + length);
      continue;
    }
    at += 2 + length;
  }
  if (components.length === 0) return { damaged: 'JPEG without a frame header' };
  const samples = components.reduce((sum, c) => sum + c.blocks * 64, 0);
  // Progressive: libjpeg keeps every DCT coefficient (2 bytes) of the whole image until the last scan,
  // whatever the shrink-on-load; baseline is decoded a row of blocks at a time.
  const decodeBytes = progressive ? held(samples * 2) : streamed(samples);
  return {
    ...still('jpeg', width, height, decodeBytes, progressive ? 'progressive-jpeg' : 'jpeg', precision),
    scans,
    blockVisits,
  };
}

// ---------------------------------------------------------------------------------------------- GIF

function readGif(b: Buffer, limits: WalkLimits): WalkResult {
  let blocks = 0;
  /** Skips a chain of data sub-blocks; the index after the terminator, or past the end if truncated. */
  const skipSubBlocks = (at: number) => {
    let i = at;
    for (; i < b.length && b[i] !== 0 && blocks <= limits.maxParts; blocks += 1) i += b[i]! + 1;
    return i + 1;
  };
  if (b.length < 13) return { damaged: 'GIF shorter than its header' };
  const screenWidth = u16le(b, 6);
  const screenHeight = u16le(b, 8);
  let canvasWidth = screenWidth;
  let canvasHeight = screenHeight;
  let frames = 0;
  let at = 13 + (b[10]! & 0x80 ? 3 << ((b[10]! & 7) + 1) : 0);
  while (at < b.length && frames <= limits.maxFrames) {
    if (blocks > limits.maxParts) return { overlong: `more than ${limits.maxParts} GIF blocks` };
    const block = b[at]!;
    if (block === 0x21) {
      at = skipSubBlocks(at + 2);
    } else if (block === 0x2c) {
      if (at + 10 > b.length) break;
      frames += 1;
      // libnsgif grows the canvas to hold a frame that lies outside the logical screen.
      canvasWidth = Math.max(canvasWidth, u16le(b, at + 1) + u16le(b, at + 5));
      canvasHeight = Math.max(canvasHeight, u16le(b, at + 3) + u16le(b, at + 7));
      const flags = b[at + 9]!;
      at += 10 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
      at = skipSubBlocks(at + 1); // after the LZW minimum code size
    } else {
      break; // trailer (0x3b), or trailing bytes that decoders ignore
    }
  }
  if (frames === 0) return { damaged: 'GIF without an image' };
  // libnsgif decodes into one RGBA canvas. Only the pages a frame touches become resident (a 1x1 frame
  // on a 7000x7000 screen: +7 MB), but a frame as large as the canvas touches it all (+234 MB).
  return {
    ...still('gif', canvasWidth, canvasHeight, held(canvasWidth * canvasHeight * 4), frames > 1 ? 'animated-gif' : 'gif'),
    frames,
  };
}

// --------------------------------------------------------------------------------------------- WebP

interface WebpFrame {
  width: number;
  height: number;
  lossless: boolean;
}

const [VP8, VP8L, VP8X, ANMF, ALPH] = ['VP8 ', 'VP8L', 'VP8X', 'ANMF', 'ALPH'].map(fourcc);

/** Size and kind of the VP8 / VP8L bitstream in a chunk, or undefined when the chunk is neither. */
function webpBitstream(b: Buffer, type: number, data: number): WebpFrame | undefined {
  if (type === VP8 && data + 10 <= b.length) {
    return { width: u16le(b, data + 6) & 0x3fff, height: u16le(b, data + 8) & 0x3fff, lossless: false };
  }
  if (type === VP8L && data + 5 <= b.length) {
    const bits = b.readUInt32LE(data + 1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, lossless: true };
  }
  return undefined;
}

function readWebp(b: Buffer, limits: WalkLimits): WalkResult {
  let canvas: { width: number; height: number; animated: boolean } | undefined;
  let first: WebpFrame | undefined;
  let frames = 0;
  let alphaPlane = false;
  const end = Math.min(b.length, 8 + b.readUInt32LE(4));
  for (let at = 12, chunks = 1; at + 8 <= end && frames <= limits.maxFrames; chunks += 1) {
    if (chunks > limits.maxParts) return { overlong: `more than ${limits.maxParts} WebP chunks` };
    const type = u32be(b, at);
    const size = b.readUInt32LE(at + 4);
    const data = at + 8;
    if (type === VP8X && data + 10 <= end) {
      canvas = { width: u24le(b, data + 4) + 1, height: u24le(b, data + 7) + 1, animated: (b[data]! & 0x02) !== 0 };
    } else if (type === ANMF && data + 24 <= end) {
      frames += 1;
      const x = 2 * u24le(b, data);
      const y = 2 * u24le(b, data + 3);
      const width = u24le(b, data + 6) + 1;
      const height = u24le(b, data + 9) + 1;
      if (canvas && (x + width > canvas.width || y + height > canvas.height)) {
        return { damaged: 'WebP frame outside its canvas' };
      }
      if (!first) {
        // The frame's own chunks follow its 16-byte header: an optional ALPH, then VP8 or VP8L.
        for (let sub = data + 16; sub + 8 <= Math.min(end, data + size) && !first; ) {
          const subType = u32be(b, sub);
          const subSize = b.readUInt32LE(sub + 4);
          if (subType === ALPH) alphaPlane = true;
          const bitstream = webpBitstream(b, subType, sub + 8);
          if (bitstream) first = { width, height, lossless: bitstream.lossless };
          sub += 8 + subSize + (subSize & 1);
        }
        first ??= { width, height, lossless: false };
      }
    } else if (type === ALPH) {
      alphaPlane = true;
    } else if (!first) {
      first = webpBitstream(b, type, data);
      if (first) frames = 1;
    }
    at = data + size + (size & 1);
  }
  if (!first) return { damaged: 'WebP without an image' };
  const width = canvas?.width ?? first.width;
  const height = canvas?.height ?? first.height;
  const frameBytes = first.width * first.height * 4;
  let decodeBytes: number;
  if (canvas?.animated) {
    // libvips composites each frame onto a full RGBA canvas it keeps, after decoding the frame whole.
    decodeBytes = held(width * height * 4 + frameBytes);
  } else {
    // Lossless (VP8L) and a separate alpha plane are decoded whole; lossy VP8 a macroblock row at a time.
    decodeBytes = first.lossless ? held(frameBytes) : streamed(frameBytes) + (alphaPlane ? first.width * first.height * HELD_FACTOR : 0);
  }
  return {
    ...still('webp', width, height, decodeBytes, canvas?.animated ? 'animated-webp' : first.lossless ? 'lossless-webp' : 'webp'),
    frames: Math.max(1, frames),
  };
}

const READERS: Record<AcceptedFormat, (b: Buffer, limits: WalkLimits) => WalkResult> = {
  png: readPng,
  jpeg: readJpeg,
  gif: readGif,
  webp: readWebp,
};

/** The structure of a file whose magic bytes said `format`; never decodes, never throws. */
export function readStructure(bytes: Buffer, format: AcceptedFormat, limits: WalkLimits): WalkResult {
  try {
    return READERS[format](bytes, limits);
  } catch (error) {
    // A read past the end of a truncated file (Buffer bounds checks): damaged, not a crash.
    if (error instanceof RangeError) return { damaged: `${format} structure cut short` };
    throw error;
  }
}

export function isDamaged(structure: WalkResult): structure is DamagedStructure {
  return 'damaged' in structure;
}

export function isOverlong(structure: WalkResult): structure is OverlongStructure {
  return 'overlong' in structure;
}
