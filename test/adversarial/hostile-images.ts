/**
 * Deterministic generators of hostile images: small files that are valid enough to get past a header
 * check but cost a decoder seconds of CPU or hundreds of MB. Built byte by byte (no encoder can make
 * most of them), so each is a few KB to a few MB however many pixels or frames it claims.
 */
import { crc32 } from 'node:zlib';

// ---------------------------------------------------------------------------------------------- PNG

function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** MSB-first bit packing into LSB-first deflate bytes. */
class DeflateBits {
  private bytes: number[] = [];
  private current = 0;
  private used = 0;

  /** `count` bits of `value`, least significant first (deflate's order for headers and extra bits). */
  bits(value: number, count: number): void {
    for (let i = 0; i < count; i += 1) this.bit((value >> i) & 1);
  }

  /** A Huffman code, most significant bit first. */
  code(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i -= 1) this.bit((value >> i) & 1);
  }

  private bit(bit: number): void {
    this.current |= bit << this.used;
    this.used += 1;
    if (this.used === 8) {
      this.bytes.push(this.current);
      this.current = 0;
      this.used = 0;
    }
  }

  finish(): Buffer {
    if (this.used > 0) this.bytes.push(this.current);
    return Buffer.from(this.bytes);
  }
}

/**
 * A zlib stream of `length` zero bytes in one fixed-Huffman block: a literal 0, then copies of 258 bytes
 * at distance 1 (13 bits each, so 400 MB of zeros is 2.5 MB), literals for the rest.
 */
export function zlibOfZeros(length: number): Buffer {
  const out = new DeflateBits();
  out.bits(1, 1); // BFINAL
  out.bits(1, 2); // BTYPE 01: fixed Huffman
  const literalZero = () => out.code(0x30, 8);
  let left = length;
  if (left > 0) {
    literalZero();
    left -= 1;
  }
  while (left >= 258) {
    out.code(0b11000101, 8); // length symbol 285 = 258 bytes
    out.code(0, 5); // distance symbol 0 = 1 byte back
    left -= 258;
  }
  for (; left > 0; left -= 1) literalZero();
  out.code(0, 7); // end of block (256)
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((length % 65521) << 16) | 1) >>> 0, 0); // Adler-32 of zeros: a = 1, b = length
  return Buffer.concat([Buffer.from([0x78, 0x01]), out.finish(), adler]);
}

const CHANNELS_OF_COLOUR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Bytes of filtered scanlines (filter byte included) libpng expects for this image. */
function rawPngSize(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  return ADAM7.reduce(
    (sum, [x0, y0, dx, dy]) => sum + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)),
    0,
  );
}

export interface PngShape {
  width: number;
  height: number;
  bitDepth?: 8 | 16;
  colourType?: 0 | 2 | 4 | 6;
  interlaced?: boolean;
}

function ihdr({ width, height, bitDepth = 8, colourType = 2, interlaced = false }: PngShape): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = bitDepth;
  data[9] = colourType;
  data[12] = interlaced ? 1 : 0;
  return pngChunk('IHDR', data);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A black PNG of any shape: its pixels are a deflate stream of zeros (7071x7071 RGB16 interlaced: 1.9 MB). */
export function blackPng(shape: PngShape): Buffer {
  const { width, height, bitDepth = 8, colourType = 2, interlaced = false } = shape;
  const bitsPerPixel = CHANNELS_OF_COLOUR_TYPE[colourType]! * bitDepth;
  const idat = zlibOfZeros(rawPngSize(width, height, bitsPerPixel, interlaced));
  return Buffer.concat([PNG_SIGNATURE, ihdr(shape), pngChunk('IDAT', idat), pngChunk('IEND')]);
}

/** An APNG of `frames` frames of 16x16 black (each frame ~70 bytes). */
export function manyFramePng(frames: number): Buffer {
  const size = 16;
  const pixels = zlibOfZeros(rawPngSize(size, size, 24, false));
  const actl = Buffer.alloc(8);
  actl.writeUInt32BE(frames, 0);
  let sequence = 0;
  const fctl = () => {
    const data = Buffer.alloc(26);
    data.writeUInt32BE(sequence++, 0);
    data.writeUInt32BE(size, 4);
    data.writeUInt32BE(size, 8);
    data.writeUInt16BE(1, 20); // delay 1/100 s
    data.writeUInt16BE(100, 22);
    return pngChunk('fcTL', data);
  };
  const parts = [PNG_SIGNATURE, ihdr({ width: size, height: size }), pngChunk('acTL', actl), fctl(), pngChunk('IDAT', pixels)];
  for (let i = 1; i < frames; i += 1) {
    parts.push(fctl());
    const fdat = Buffer.alloc(4 + pixels.length);
    fdat.writeUInt32BE(sequence++, 0);
    pixels.copy(fdat, 4);
    parts.push(pngChunk('fdAT', fdat));
  }
  parts.push(pngChunk('IEND'));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------- GIF

export interface GifFrame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * A GIF with a `width` x `height` logical screen and the given frames, each coded as a single pixel
 * of colour 0 or 1 (the decoder fills the rest of a larger frame as missing data).
 */
export function gif(width: number, height: number, frames: readonly GifFrame[]): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0b1000_0001; // global colour table of 4 entries
  const parts = [Buffer.from('GIF89a', 'latin1'), screen, Buffer.from([255, 0, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255])];
  frames.forEach((frame, i) => {
    parts.push(Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x00])); // graphic control: 0.1 s
    const descriptor = Buffer.alloc(10);
    descriptor[0] = 0x2c;
    descriptor.writeUInt16LE(frame.left, 1);
    descriptor.writeUInt16LE(frame.top, 3);
    descriptor.writeUInt16LE(frame.width, 5);
    descriptor.writeUInt16LE(frame.height, 7);
    // LZW, minimum code size 2, 3-bit codes: clear (4), colour index (i % 2), end (5).
    parts.push(descriptor, Buffer.from([0x02, 0x02, 0x44 | ((i % 2) << 3), 0x01, 0x00]));
  });
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/** `count` one-pixel frames on a `width` x `height` screen. */
export function manyFrameGif(width: number, height: number, count: number): Buffer {
  return gif(
    width,
    height,
    Array.from({ length: count }, (_, i) => ({ left: i % width, top: 0, width: 1, height: 1 })),
  );
}

// --------------------------------------------------------------------------------------------- WebP

function riffChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, Buffer.alloc(data.length % 2)]);
}

function uint24(value: number): Buffer {
  const out = Buffer.alloc(3);
  out.writeUIntLE(value, 0, 3);
  return out;
}

/** A 1x1 black lossless frame: the VP8L chunk's payload of what libwebp writes for it (14 bytes). */
export const ONE_PIXEL_VP8L = Buffer.from('2f00000000071011fd0f4444ff03', 'hex');

/** `RIFF....WEBP` around the chunks. */
function webp(chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

function vp8x(flags: number, canvasWidth: number, canvasHeight: number): Buffer {
  return riffChunk('VP8X', Buffer.concat([Buffer.from([flags, 0, 0, 0]), uint24(canvasWidth - 1), uint24(canvasHeight - 1)]));
}

/**
 * An animated WebP: a `canvasWidth` x `canvasHeight` canvas and `frames` copies of a 1x1 lossless
 * frame (46 bytes each: 217,000 frames are 10 MB).
 */
export function animatedWebp(frames: number, canvasWidth = 16, canvasHeight = 16, frame = ONE_PIXEL_VP8L): Buffer {
  const anmf = riffChunk(
    'ANMF',
    Buffer.concat([uint24(0), uint24(0), uint24(0), uint24(0), uint24(100), Buffer.from([0]), riffChunk('VP8L', frame)]),
  );
  const anim = riffChunk('ANIM', Buffer.from([0, 0, 0, 0, 0, 0]));
  return webp([vp8x(0x02, canvasWidth, canvasHeight), anim, ...Array.from({ length: frames }, () => anmf)]);
}

// --------------------------------------------------------------------------------------------- JPEG

/** JPEG entropy-coded bits: MSB first, 0xFF followed by a stuffed 0x00, padded with ones. */
class JpegBits {
  private bytes: number[] = [];
  private current = 0;
  private used = 0;

  write(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i -= 1) {
      this.current = (this.current << 1) | ((value >> i) & 1);
      this.used += 1;
      if (this.used === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.current);
    if (this.current === 0xff) this.bytes.push(0);
    this.current = 0;
    this.used = 0;
  }

  finish(): Buffer {
    if (this.used > 0) this.write((1 << (8 - this.used)) - 1, 8 - this.used);
    return Buffer.from(this.bytes);
  }
}

function segment(marker: number, data: Uint8Array): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([head, data]);
}

export interface ProgressiveJpegShape {
  width: number;
  height: number;
  /** 1 (grey) or 3 (all at full resolution). */
  components: 1 | 3;
  /** How many scans; at most 14 + 14 * 63 per component (every coefficient alone, refined bit by bit). */
  scans: number;
  /** Stop after this many bytes (a truncated download). */
  truncateAt?: number;
}

/**
 * A mid-grey progressive JPEG with the given number of scans. Every coefficient is zero, so a DC scan
 * is one bit per block and an AC scan is a few end-of-band runs: 2,647 scans of 7071x7071 x 3 is
 * about 500 KB, yet libjpeg visits every block in every scan (the 37 s file of the issue).
 */
export function progressiveJpeg({ width, height, components, scans, truncateAt }: ProgressiveJpegShape): Buffer {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const sof = Buffer.alloc(6 + 3 * components);
  sof[0] = 8;
  sof.writeUInt16BE(height, 1);
  sof.writeUInt16BE(width, 3);
  sof[5] = components;
  for (let c = 0; c < components; c += 1) sof.set([c + 1, 0x11, 0], 6 + 3 * c);
  // DC table 0: one code '0' for difference category 0. AC table 0: fifteen 4-bit codes, code n for
  // an end-of-band run of 2^n blocks (symbol n << 4).
  const dcTable = Buffer.concat([Buffer.from([0x00, 1]), Buffer.alloc(15), Buffer.from([0x00])]);
  const acCounts = Buffer.alloc(16);
  acCounts[3] = 15;
  const acTable = Buffer.concat([Buffer.from([0x10]), acCounts, Buffer.from(Array.from({ length: 15 }, (_, n) => n << 4))]);
  const parts = [
    Buffer.from([0xff, 0xd8]),
    segment(0xdb, Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)])),
    segment(0xc2, sof),
    segment(0xc4, Buffer.concat([dcTable, acTable])),
  ];

  type Scan = { component: number; ss: number; se: number; ah: number; al: number };
  const script: Scan[] = [];
  for (let c = 1; c <= components; c += 1) script.push({ component: c, ss: 0, se: 0, ah: 0, al: 0 });
  for (let c = 1; c <= components; c += 1) {
    for (let k = 1; k <= 63; k += 1) {
      script.push({ component: c, ss: k, se: k, ah: 0, al: 13 });
      for (let al = 12; al >= 0; al -= 1) script.push({ component: c, ss: k, se: k, ah: al + 1, al });
    }
  }
  if (scans > script.length) throw new RangeError(`at most ${script.length} scans for ${components} component(s)`);

  const dcScan = (() => {
    const bits = new JpegBits();
    for (let i = 0; i < blocks; i += 1) bits.write(0, 1);
    return bits.finish();
  })();
  const acScan = (() => {
    const bits = new JpegBits();
    let left = blocks;
    for (let n = 14; n >= 0; n -= 1) {
      while (left >= 1 << n) {
        bits.write(n, 4);
        bits.write(0, n);
        left -= 1 << n;
      }
    }
    return bits.finish();
  })();
  for (const { component, ss, se, ah, al } of script.slice(0, scans)) {
    parts.push(segment(0xda, Buffer.from([1, component, 0x00, ss, se, (ah << 4) | al])), ss === 0 ? dcScan : acScan);
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  const file = Buffer.concat(parts);
  return truncateAt === undefined ? file : file.subarray(0, truncateAt);
}

/**
 * A real baseline JPEG whose frame header is changed to claim `width` x `height`, cut `keepBytes` after
 * that header: a truncated download of a huge photo.
 */
export function truncatedBaselineJpeg(realJpeg: Buffer, width: number, height: number, keepBytes = 4096): Buffer {
  for (let i = 2; i + 9 < realJpeg.length; ) {
    if (realJpeg[i] !== 0xff) throw new Error('not a JPEG segment');
    const marker = realJpeg[i + 1]!;
    const length = realJpeg.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc1) {
      const out = Buffer.from(realJpeg.subarray(0, i + 2 + length + keepBytes));
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error('no baseline frame header');
}
