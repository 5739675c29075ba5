/**
 * What differs between the parts of a profile when a change runs (see pipeline.ts): how the value is
 * sent to X, where X shows it, whether X applies it later (images) or at once (name, bio: the answer
 * shows it), and how the value the user had before the bot is read to be kept as their original.
 */
import type { AvatarNormalizer } from '../avatar/normalize.js';
import type { StoredImage } from '../avatar/history.js';
import type { Downloader } from '../download.js';
import type { LinkedAccount } from '../accounts/vault.js';
import type { ImagePart, ProfilePart, TextPart } from '../profile/parts.js';
import type { XClient, XUser } from '../x/client.js';

/** An image (avatar, banner) or a text (name, bio). */
export type PartValue = StoredImage | { text: string };

export const isImageValue = (value: PartValue): value is StoredImage => 'data' in value;

/** What the user had before the bot: 'none' for an empty part (no banner, no bio). */
export interface OriginalValue {
  value: PartValue | 'none';
  /** What X showed (an URL, a text), as a history keeps it. */
  shown: string;
}

export interface PartDriver {
  readonly part: ProfilePart;
  /** Images are applied by X some seconds after the upload is accepted; a name or bio is in X's answer. */
  readonly processed: boolean;
  /** What X shows for the part, as a history keeps it (the avatar's 400x400 URL, the banner's URL, the text). */
  shown(user: XUser): string;
  /** Whether `user` shows the change: for an image, anything but what was shown before (`previous`); for a
   *  text, the text sent. */
  reached(user: XUser, change: { previous?: string; text?: string }): boolean;
  /** Sends the value; X's answer when it carries the profile. */
  send(account: LinkedAccount, value: PartValue): Promise<XUser | undefined>;
  /** Empties the part (a banner removed, a bio cleared): the original of a user who had none. */
  clear(account: LinkedAccount): Promise<XUser | undefined>;
  /** The value `current` shows, in the form the bot keeps (an image normalised). */
  readOriginal(current: XUser): Promise<OriginalValue>;
}

/** What the drivers need of X: the calls for each part. */
export type ProfileWriter = Pick<XClient, 'uploadProfileImage' | 'uploadProfileBanner' | 'removeProfileBanner' | 'updateProfile'>;

export interface PartDriverDeps {
  x: ProfileWriter;
  normalizer: AvatarNormalizer;
  /** Downloads from X's image hosts. */
  xImages: Downloader;
}

/** `…/abc_normal.jpg`, `…/abc_400x400.jpg` and `…/abc.jpg` are one avatar. */
export const avatarStem = (url: string) => url.replace(/_(normal|400x400)(\.[A-Za-z0-9]+)?$/, '$2');
/** `…/profile_banners/1/1700000000` and its size variants (`/1500x500`, `/web`, …) are one banner. */
const bannerStem = (url: string) => url.replace(/\/(\d+x\d+|web|web_retina|mobile|mobile_retina|ipad|ipad_retina)$/, '');

function imageDriver(part: ImagePart, deps: PartDriverDeps): PartDriver {
  const avatar = part === 'avatar';
  const stem = avatar ? avatarStem : bannerStem;
  const shown = (user: XUser) => (avatar ? user.profileImage.size400 : (user.bannerUrl ?? ''));
  return {
    part,
    processed: true,
    shown,
    reached: (user, { previous }) => previous === undefined || stem(shown(user)) !== stem(previous),
    async send(account, value) {
      if (!isImageValue(value)) throw new TypeError(`a ${part} change needs an image`);
      if (avatar) return deps.x.uploadProfileImage(account, value);
      await deps.x.uploadProfileBanner(account, value.data);
      return undefined;
    },
    async clear(account) {
      if (avatar) throw new TypeError('an avatar cannot be removed');
      await deps.x.removeProfileBanner(account);
      return undefined;
    },
    async readOriginal(current) {
      const url = avatar ? current.profileImage.original : current.bannerUrl;
      if (url === undefined) return { value: 'none', shown: '' };
      // X serves a banner's sizes by suffix; 1500x500 is the size the bot uploads.
      const bytes = await deps.xImages.download(avatar ? url : `${bannerStem(url)}/1500x500`);
      const image = avatar ? await deps.normalizer.normalize(bytes, { crop: 'centre' }) : await deps.normalizer.banner(bytes, { crop: 'centre' });
      return { value: { data: image.data, format: image.format }, shown: shown(current) };
    },
  };
}

function textDriver(part: TextPart, deps: PartDriverDeps): PartDriver {
  const field = part === 'name' ? 'name' : 'description';
  const shown = (user: XUser) => (part === 'name' ? user.name : (user.description ?? ''));
  return {
    part,
    processed: false,
    shown,
    reached: (user, { text }) => shown(user) === text,
    async send(account, value) {
      if (isImageValue(value)) throw new TypeError(`a ${part} change needs a text`);
      return deps.x.updateProfile(account, { [field]: value.text });
    },
    async clear(account) {
      if (part === 'name') throw new TypeError('a name cannot be emptied');
      return deps.x.updateProfile(account, { description: '' });
    },
    async readOriginal(current) {
      const text = shown(current);
      return text === '' ? { value: 'none', shown: '' } : { value: { text }, shown: text };
    },
  };
}

export function createPartDrivers(deps: PartDriverDeps): Record<ProfilePart, PartDriver> {
  return { avatar: imageDriver('avatar', deps), banner: imageDriver('banner', deps), name: textDriver('name', deps), bio: textDriver('bio', deps) };
}
