/**
 * How X shows an avatar: the square image inside a circle. Used for previews.
 * The mask is computed in JavaScript (SVG input is blocked process-wide with the other loaders).
 */
import sharp from 'sharp';
import { AVATAR_SIZE } from './normalize.js';

const masks = new Map<number, Buffer>();

/** A size x size single-channel mask: 255 inside the circle, anti-aliased over one pixel at the edge. */
export function circleMask(size: number): Buffer {
  const cached = masks.get(size);
  if (cached) return cached;
  const radius = size / 2;
  const pixels = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const distance = Math.hypot(x + 0.5 - radius, y + 0.5 - radius);
      pixels[y * size + x] = Math.round(255 * Math.min(1, Math.max(0, radius - distance + 0.5)));
    }
  }
  masks.set(size, pixels);
  return pixels;
}

/** Square 8-bit RGB pixels with the circle as alpha (transparent outside it), as PNG. */
export function cutCircle(rgb: Buffer, size: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .joinChannel(circleMask(size), { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toBuffer();
}

/** The avatar cropped to a circle, transparent outside it, as PNG. */
export async function circlePreview(avatar: Buffer): Promise<Buffer> {
  return cutCircle(await sharp(avatar).flatten({ background: '#ffffff' }).raw().toBuffer(), AVATAR_SIZE);
}
