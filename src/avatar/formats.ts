/**
 * Recognising image formats by their content (magic bytes), never by file name or declared type.
 */

export type DetectedFormat =
  | 'jpeg'
  | 'png'
  | 'gif'
  | 'webp'
  | 'heic'
  | 'avif'
  | 'tiff'
  | 'svg'
  | 'bmp'
  | 'jp2'
  | 'jxl'
  | 'ico'
  | 'psd'
  | 'pdf'
  | 'video';

/** The formats the avatar pipeline decodes. */
export type AcceptedFormat = 'jpeg' | 'png' | 'gif' | 'webp';

export const ACCEPTED_FORMATS: readonly AcceptedFormat[] = ['jpeg', 'png', 'gif', 'webp'];

export function isAcceptedFormat(format: string | undefined): format is AcceptedFormat {
  return (ACCEPTED_FORMATS as readonly string[]).includes(format ?? '');
}

/**
 * A format is named to the user by its id (an error's `format` parameter): the words are the catalogue's
 * `format.<id>` in the reader's language (src/i18n/<locale>/words.ts), "a BMP image", "ein BMP-Bild".
 */
export const FORMAT_IDS: readonly DetectedFormat[] = ['jpeg', 'png', 'gif', 'webp', 'heic', 'avif', 'tiff', 'svg', 'bmp', 'jp2', 'jxl', 'ico', 'psd', 'pdf', 'video'];

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JP2_SIGNATURE = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];
const JXL_CONTAINER = [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const AVIF_BRANDS = new Set(['avif', 'avis']);
const VIDEO_BRANDS = new Set(['isom', 'iso2', 'mp41', 'mp42', 'qt  ', 'avc1', 'M4V ', 'M4VP', '3gp4', '3gp5', '3g2a']);

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((value, i) => bytes[offset + i] === value);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);
}

/** ISO base media files (HEIC, AVIF, MP4, MOV) start with an `ftyp` box listing brands. */
function detectIsoBmff(bytes: Uint8Array): DetectedFormat | undefined {
  if (bytes.length < 12 || ascii(bytes, 4, 8) !== 'ftyp') return undefined;
  const declaredSize = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const boxSize = Math.min(bytes.length, declaredSize, 256); // real ftyp boxes list a handful of brands
  const brands = [ascii(bytes, 8, 12)];
  for (let offset = 16; offset + 4 <= boxSize; offset += 4) brands.push(ascii(bytes, offset, offset + 4));
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
  if (brands.some((brand) => HEIC_BRANDS.has(brand))) return 'heic';
  // Generic HEIF ('mif1', 'msf1') without a more specific brand: iPhones label their photos HEIC.
  if (brands.includes('mif1') || brands.includes('msf1')) return 'heic';
  if (brands.some((brand) => VIDEO_BRANDS.has(brand))) return 'video';
  return undefined;
}

function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = ascii(bytes, 0, Math.min(bytes.length, 4096)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (!head.startsWith('<')) return false;
  return /<svg[\s>]/i.test(head);
}

/**
 * The image format the bytes are in, read from their magic numbers, or undefined when none is recognised.
 */
export function detectImageFormat(bytes: Uint8Array): DetectedFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  const isoFormat = detectIsoBmff(bytes);
  if (isoFormat) return isoFormat;
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  // BigTIFF
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff';
  if (startsWith(bytes, JP2_SIGNATURE) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'jp2';
  if (startsWith(bytes, JXL_CONTAINER) || startsWith(bytes, [0xff, 0x0a])) return 'jxl';
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26) return 'bmp';
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length >= 22) return 'ico';
  if (ascii(bytes, 0, 4) === '8BPS') return 'psd';
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  if (looksLikeSvg(bytes)) return 'svg';
  return undefined;
}

/**
 * A PNG whose 8-byte signature was damaged (e.g. by a text-mode transfer rewriting CR/LF) still has its
 * mandatory first chunk, IHDR, right after it. Such a file is a broken PNG, not an unknown format.
 */
export function looksLikeDamagedPng(bytes: Uint8Array): boolean {
  return bytes.length >= 16 && ascii(bytes, 12, 16) === 'IHDR';
}
