/**
 * How X shows an avatar: the square image inside a circle. Used for previews.
 * The mask is computed in JavaScript (SVG input is blocked process-wide with the other loaders).
 */
import sharp from 'sharp';
import { AVATAR_SIZE } from './normalize.js';

let mask: Buffer | undefined;

/** A 400x400 single-channel mask: 255 inside the circle, anti-aliased over one pixel at the edge. */
function circleMask(): Buffer {
  if (mask) return mask;
  const size = AVATAR_SIZE;
  const radius = size / 2;
  const pixels = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const distance = Math.hypot(x + 0.5 - radius, y + 0.5 - radius);
      pixels[y * size + x] = Math.round(255 * Math.min(1, Math.max(0, radius - distance + 0.5)));
    }
  }
  mask = pixels;
  return mask;
}

/** The avatar cropped to a circle, transparent outside it, as PNG. */
export async function circlePreview(avatar: Buffer): Promise<Buffer> {
  const rgb = await sharp(avatar).flatten({ background: '#ffffff' }).raw().toBuffer();
  return sharp(rgb, { raw: { width: AVATAR_SIZE, height: AVATAR_SIZE, channels: 3 } })
    .joinChannel(circleMask(), { raw: { width: AVATAR_SIZE, height: AVATAR_SIZE, channels: 1 } })
    .png()
    .toBuffer();
}
