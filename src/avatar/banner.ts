/**
 * How X shows a banner (its header image): the preview puts the 1500x500 banner in a profile page's
 * layout, with the avatar circle over its lower-left corner, and beside it the narrower part a phone
 * shows. The banner itself is made by normalizeBanner (normalize.ts): the avatar's pipeline and checks.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { cutCircle } from './circle.js';
import { BANNER_HEIGHT, BANNER_WIDTH } from './normalize.js';

export { normalizeBanner, type Banner, BANNER_HEIGHT, BANNER_WIDTH, MAX_BANNER_BYTES } from './normalize.js';

/**
 * X's web profile, in a 600 px column: the banner is 600x200, the avatar a 133.5 px circle (its 4 px ring
 * of page colour included) whose left edge is 16 px in and whose centre sits on the banner's bottom edge,
 * so half of it hangs below. As fractions of the banner's width, drawn here at 1500 px.
 */
const WEB_AVATAR_DIAMETER = 133.5 / 600; // 334 px at 1500
const WEB_AVATAR_RING = 4 / 600; // 10 px
const WEB_AVATAR_LEFT = 16 / 600; // 40 px

/**
 * X's phone app: the header fills the screen's width and runs up under the status bar, so it is about
 * 2:1 rather than 3:1 and the sides of the banner are cut (the centred 1000x500 of it). Its avatar is
 * about 80 pt on a 390 pt wide screen (a fifth of the width, a 3 pt ring), 16 pt in, centred on the
 * header's bottom edge. Our reading of the iOS app in 2025; X publishes no numbers.
 */
const PHONE_ASPECT = 2;
const PHONE_WIDTH = 500; // drawn at 500 px wide: narrower, as the phone shows it
const PHONE_AVATAR_DIAMETER = 80 / 390;
const PHONE_AVATAR_RING = 3 / 390;
const PHONE_AVATAR_LEFT = 16 / 390;

const MARGIN = 40;
/** The page around the banner (light theme), the canvas behind the two views, and X's empty-avatar grey. */
const PAGE = { r: 255, g: 255, b: 255 };
const CANVAS = { r: 0xe1, g: 0xe8, b: 0xed };
const NO_AVATAR = { r: 0xcf, g: 0xd9, b: 0xde };

interface Layout {
  /** The view's top-left corner on the canvas, and its banner's size as shown. */
  left: number;
  top: number;
  width: number;
  height: number;
  diameter: number;
  ring: number;
  avatarLeft: number;
}

const round = Math.round;
const web: Layout = {
  left: MARGIN,
  top: MARGIN,
  width: BANNER_WIDTH,
  height: BANNER_HEIGHT,
  diameter: round(BANNER_WIDTH * WEB_AVATAR_DIAMETER),
  ring: round(BANNER_WIDTH * WEB_AVATAR_RING),
  avatarLeft: round(BANNER_WIDTH * WEB_AVATAR_LEFT),
};
const phone: Layout = {
  left: MARGIN + BANNER_WIDTH + MARGIN,
  top: MARGIN,
  width: PHONE_WIDTH,
  height: round(PHONE_WIDTH / PHONE_ASPECT),
  diameter: round(PHONE_WIDTH * PHONE_AVATAR_DIAMETER),
  ring: round(PHONE_WIDTH * PHONE_AVATAR_RING),
  avatarLeft: round(PHONE_WIDTH * PHONE_AVATAR_LEFT),
};
/** The page below each banner: room for the half circle that hangs below it, and a little more. */
const pageHeight = (view: Layout) => view.height + Math.ceil(view.diameter / 2) + MARGIN / 2;

export const PREVIEW_WIDTH = phone.left + phone.width + MARGIN;
export const PREVIEW_HEIGHT = MARGIN + Math.max(pageHeight(web), pageHeight(phone)) + MARGIN;

/** Where each view's avatar circle is drawn on the preview (ring included), for callers and tests. */
export const PREVIEW_CIRCLES = {
  web: circleBox(web),
  phone: circleBox(phone),
  /** The banners' rectangles on the preview. */
  webBanner: { left: web.left, top: web.top, width: web.width, height: web.height },
  phoneBanner: { left: phone.left, top: phone.top, width: phone.width, height: phone.height },
} as const;

function circleBox(view: Layout) {
  return { left: view.left + view.avatarLeft, top: view.top + view.height - round(view.diameter / 2), size: view.diameter };
}

/** The avatar (or X's empty grey) in a circle with a ring of page colour, transparent outside: PNG. */
async function ringedAvatar(avatar: Buffer | undefined, { diameter, ring }: Layout): Promise<Buffer> {
  const inner = diameter - 2 * ring;
  const face = avatar
    ? await sharp(avatar).resize(inner, inner, { fit: 'cover' }).flatten({ background: PAGE }).removeAlpha().raw().toBuffer()
    : await sharp({ create: { width: inner, height: inner, channels: 3, background: NO_AVATAR } }).raw().toBuffer();
  // The face's circle on page colour, grown by the ring, then cut to the outer circle: the ring is what is left.
  const { data, info } = await sharp(await cutCircle(face, inner))
    .flatten({ background: PAGE })
    .extend({ top: ring, bottom: ring, left: ring, right: ring, background: { ...PAGE, alpha: 1 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== diameter) throw new Error(`unexpected ring ${info.width}x${info.height}x${info.channels}`);
  return cutCircle(data, diameter);
}

async function view(banner: Buffer, avatar: Buffer | undefined, layout: Layout): Promise<OverlayOptions[]> {
  const circle = circleBox(layout);
  return [
    { input: { create: { width: layout.width, height: pageHeight(layout), channels: 3, background: PAGE } }, left: layout.left, top: layout.top },
    { input: banner, left: layout.left, top: layout.top },
    { input: await ringedAvatar(avatar, layout), left: circle.left, top: circle.top },
  ];
}

/**
 * A PNG of what X will show: on the left the 1500x500 banner as on a profile page, the avatar circle
 * over its lower-left corner (X's empty grey circle without one); on the right the centred 2:1 part a
 * phone shows, drawn narrower, with its smaller circle. `banner` is a normalised 1500x500 banner,
 * `avatar` a normalised avatar (any square image works).
 */
export async function bannerPreview(banner: Buffer, avatar?: Buffer): Promise<Buffer> {
  const { width, height } = await sharp(banner).metadata();
  if (width !== BANNER_WIDTH || height !== BANNER_HEIGHT) {
    throw new RangeError(`bannerPreview needs a ${BANNER_WIDTH}x${BANNER_HEIGHT} banner, got ${String(width)}x${String(height)}`);
  }
  const flat = await sharp(banner).flatten({ background: PAGE }).removeAlpha().png({ compressionLevel: 1 }).toBuffer();
  const phoneCropWidth = BANNER_HEIGHT * PHONE_ASPECT;
  const phoneBanner = await sharp(flat)
    .extract({ left: (BANNER_WIDTH - phoneCropWidth) / 2, top: 0, width: phoneCropWidth, height: BANNER_HEIGHT })
    .resize(phone.width, phone.height)
    .png({ compressionLevel: 1 })
    .toBuffer();
  const layers = [...(await view(flat, avatar, web)), ...(await view(phoneBanner, avatar, phone))];
  return sharp({ create: { width: PREVIEW_WIDTH, height: PREVIEW_HEIGHT, channels: 3, background: CANVAS } })
    .composite(layers)
    .png()
    .toBuffer();
}
