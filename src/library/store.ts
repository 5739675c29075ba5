/**
 * A user's named images for schedules, and their kits: normalised bytes stored under a name the user
 * picks; a kit is any of an avatar image, a banner image, a name template and a bio template under one
 * name. Images and kits share the names and the limit. Images are content-addressed per user, so two
 * names (or a kit) for one picture store it once.
 */
import type Keyv from 'keyv';
import { UserFacingError } from '../errors.js';
import type { Store } from '../store/backend.js';
import { excerpt, listWithMore } from '../text.js';
import { hashImage, type StoredImage } from '../avatar/history.js';
import { fillTemplate, PROFILE_TEXT_LIMITS } from '../profile/text.js';

export const LIBRARY_LIMIT = 50;

export const LIBRARY_ERROR_KINDS = ['invalid-name', 'name-taken', 'not-found', 'full', 'empty-kit'] as const;
export class LibraryError extends UserFacingError<(typeof LIBRARY_ERROR_KINDS)[number]> {}

export interface LibraryItem {
  name: string;
  hash: string;
  format: StoredImage['format'];
  addedAt: string;
}

/** An image of a kit, stored with the library's images. */
export interface KitImage {
  hash: string;
  format: StoredImage['format'];
}

export interface KitItem {
  name: string;
  addedAt: string;
  avatar?: KitImage;
  banner?: KitImage;
  /** `{name}` and `{bio}` stand for each member's own values (src/profile/text.ts fillTemplate). */
  nameTemplate?: string;
  bioTemplate?: string;
}

/** What a kit is made of when it is added: the images normalised for their part already. */
export interface KitParts {
  avatar?: StoredImage;
  banner?: StoredImage;
  nameTemplate?: string;
  bioTemplate?: string;
}

export type Kit = KitItem & { images: { avatar?: StoredImage; banner?: StoredImage } };

/** Which parts a kit will have (its images not yet downloaded). */
export interface KitShape {
  avatar: boolean;
  banner: boolean;
  nameTemplate?: string | undefined;
  bioTemplate?: string | undefined;
}

/** A kit needs a part, and templates whose fixed text fits X's limits (one that does not could never be applied). */
function checkKitParts(parts: KitShape): void {
  if (!parts.avatar && !parts.banner && parts.nameTemplate === undefined && parts.bioTemplate === undefined) throw new LibraryError('empty-kit');
  if (parts.nameTemplate !== undefined) fillTemplate(parts.nameTemplate, {}, PROFILE_TEXT_LIMITS.name);
  if (parts.bioTemplate !== undefined) fillTemplate(parts.bioTemplate, {}, PROFILE_TEXT_LIMITS.description);
}

const shapeOf = (parts: KitParts): KitShape => ({ ...parts, avatar: parts.avatar !== undefined, banner: parts.banner !== undefined });

interface StoredLibrary {
  items: LibraryItem[];
  kits?: KitItem[];
}

export interface AvatarLibrary {
  list(discordUserId: string): Promise<LibraryItem[]>;
  get(discordUserId: string, name: string): Promise<(LibraryItem & { image: StoredImage }) | undefined>;
  /** Throws LibraryError('not-found') with the names the user has. */
  require(discordUserId: string, name: string): Promise<LibraryItem & { image: StoredImage }>;
  /** Throws what add would (invalid name, name taken, library full) without an image: checked before downloading one. */
  checkRoom(discordUserId: string, name: string): Promise<void>;
  add(discordUserId: string, name: string, image: StoredImage): Promise<LibraryItem>;
  /** Throws 'empty-kit' without any part, and ProfileTextError when a template's fixed text is over X's limit. */
  addKit(discordUserId: string, name: string, parts: KitParts): Promise<KitItem>;
  /** Throws what addKit would, before any image is downloaded: which images will come is enough. */
  checkKit(discordUserId: string, name: string, parts: KitShape): Promise<void>;
  kits(discordUserId: string): Promise<KitItem[]>;
  /** A kit with its images; undefined when the user has none by that name (an image by that name is not a kit). */
  getKit(discordUserId: string, name: string): Promise<Kit | undefined>;
  /** An image or a kit. */
  remove(discordUserId: string, name: string): Promise<LibraryItem | KitItem>;
  /** Names starting with or containing `query`, for autocomplete. */
  search(discordUserId: string, query: string, limit?: number): Promise<string[]>;
  forget(discordUserId: string): Promise<void>;
}

/**
 * Letters of any script with their combining marks (accents, vowel signs: Devanagari needs them), digits,
 * space, underscore, dot, dash; starting with a letter or digit; at most 32 characters after NFC.
 * Invisible characters (joiners, direction marks) are refused: they make two names look the same.
 */
const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{M}\p{N} _.-]{0,31}$/u;

/** The name as stored: NFC (so "cafe" + U+0301 and "café" are one spelling), spaces collapsed. */
export function normaliseName(name: string): string {
  const trimmed = name.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (!NAME_PATTERN.test(trimmed)) {
    throw new LibraryError('invalid-name');
  }
  return trimmed;
}

/**
 * Letters of other scripts that look like Latin ones (from Unicode's confusables.txt, single characters:
 * Cyrillic, Greek, Armenian), mapped in their own case before case folding: Greek capital Ν looks like N,
 * small ν like v.
 */
const LATIN_LOOKALIKES: Record<string, string> = Object.fromEntries(
  [
    'АA ВB ЕE КK МM НH ОO РP СC ТT ХX УY ЅS ІI ЈJ ӀI ҺH ԚQ ԜW ҮY',
    'аa еe оo рp сc уy хx ѕs іi јj һh ԁd ԛq ԝw ӏl үy',
    'ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX',
    'αa γy ιi νv οo ρp υu',
    'օo սu հh ոn զq',
  ]
    .join(' ')
    .split(' ')
    .map((pair) => [pair.slice(0, -1), pair.slice(-1)]),
);

/**
 * What two names are compared by: compatibility forms folded (NFKC: fullwidth, ligatures), look-alike
 * letters of other scripts mapped to Latin, case folded. "сafe" with a Cyrillic с is the name "cafe":
 * adding it next to "cafe" is refused as taken, and looking it up finds "cafe". Accents are not
 * look-alikes: "café" and "cafe" are two names.
 */
export function nameKey(name: string): string {
  let mapped = '';
  for (const character of name.normalize('NFKC').trim().replace(/\s+/g, ' ')) mapped += LATIN_LOOKALIKES[character] ?? character;
  return mapped.toLowerCase().normalize('NFKC');
}

const sameName = (a: string, b: string) => nameKey(a) === nameKey(b);

/** The image hashes a library still uses: its images' and its kits'. */
function referenced(library: StoredLibrary): Set<string> {
  const kitImages = (library.kits ?? []).flatMap((kit) => [kit.avatar?.hash, kit.banner?.hash]).filter((hash): hash is string => hash !== undefined);
  return new Set([...library.items.map((item) => item.hash), ...kitImages]);
}

function checkRoom(library: StoredLibrary, name: string): void {
  const current: Array<{ name: string }> = [...library.items, ...(library.kits ?? [])];
  const taken = current.find((item) => sameName(item.name, name));
  if (taken) {
    throw taken.name === name ? new LibraryError('name-taken', { name }) : new LibraryError('name-taken', { taken: taken.name, name }, { variant: 'alike' });
  }
  if (current.length >= LIBRARY_LIMIT) throw new LibraryError('full', { max: LIBRARY_LIMIT });
}

export function createAvatarLibrary(store: Store): AvatarLibrary {
  const libraries: Keyv<StoredLibrary> = store.namespace<StoredLibrary>('library');
  const images: Keyv<{ data: string; format: StoredImage['format'] }> = store.namespace('library-images');
  const imageKey = (discordUserId: string, hash: string) => `${discordUserId}:${hash}`;
  const libraryOf = async (discordUserId: string): Promise<StoredLibrary> => (await libraries.get(discordUserId)) ?? { items: [] };
  const items = async (discordUserId: string) => (await libraryOf(discordUserId)).items;
  const imageOf = async (discordUserId: string, hash: string): Promise<StoredImage | undefined> => {
    const record = await images.get(imageKey(discordUserId, hash));
    return record ? { data: Buffer.from(record.data, 'base64'), format: record.format } : undefined;
  };
  const putImage = async (discordUserId: string, image: StoredImage): Promise<KitImage> => {
    const hash = hashImage(image.data);
    await images.set(imageKey(discordUserId, hash), { data: image.data.toString('base64'), format: image.format });
    return { hash, format: image.format };
  };
  /** Deletes the images `before` used and `after` does not. */
  const dropUnused = async (discordUserId: string, before: StoredLibrary, after: StoredLibrary) => {
    const keep = referenced(after);
    await Promise.all([...referenced(before)].filter((hash) => !keep.has(hash)).map((hash) => images.delete(imageKey(discordUserId, hash))));
  };
  /** Every change of a user's library reads, changes and writes it under the user's store lock. */
  const locked = <T>(discordUserId: string, work: () => Promise<T>) => store.locked(`library:${discordUserId}`, work);

  async function get(discordUserId: string, name: string) {
    const item = (await items(discordUserId)).find((candidate) => sameName(candidate.name, name));
    if (!item) return undefined;
    const image = await imageOf(discordUserId, item.hash);
    return image ? { ...item, image } : undefined;
  }

  return {
    list: items,
    get,
    async require(discordUserId, name) {
      const found = await get(discordUserId, name);
      if (found) return found;
      const names = (await items(discordUserId)).map((item) => item.name);
      throw names.length
        ? new LibraryError('not-found', { name: excerpt(name), names: listWithMore(names, 1000) }, { variant: 'listed' })
        : new LibraryError('not-found', {}, { variant: 'empty' });
    },
    checkRoom: async (discordUserId, rawName) => void checkRoom(await libraryOf(discordUserId), normaliseName(rawName)),
    add: (discordUserId, rawName, image) => locked(discordUserId, async () => {
      const name = normaliseName(rawName);
      const library = await libraryOf(discordUserId);
      checkRoom(library, name);
      const { hash } = await putImage(discordUserId, image);
      const item: LibraryItem = { name, hash, format: image.format, addedAt: new Date().toISOString() };
      await libraries.set(discordUserId, { ...library, items: [...library.items, item] });
      return item;
    }),
    addKit: (discordUserId, rawName, parts) => locked(discordUserId, async () => {
      const name = normaliseName(rawName);
      checkKitParts(shapeOf(parts));
      const library = await libraryOf(discordUserId);
      checkRoom(library, name);
      const kit: KitItem = {
        name,
        addedAt: new Date().toISOString(),
        ...(parts.avatar ? { avatar: await putImage(discordUserId, parts.avatar) } : {}),
        ...(parts.banner ? { banner: await putImage(discordUserId, parts.banner) } : {}),
        ...(parts.nameTemplate !== undefined ? { nameTemplate: parts.nameTemplate } : {}),
        ...(parts.bioTemplate !== undefined ? { bioTemplate: parts.bioTemplate } : {}),
      };
      await libraries.set(discordUserId, { ...library, kits: [...(library.kits ?? []), kit] });
      return kit;
    }),
    async checkKit(discordUserId, rawName, parts) {
      const name = normaliseName(rawName);
      checkKitParts(parts);
      checkRoom(await libraryOf(discordUserId), name);
    },
    kits: async (discordUserId) => (await libraryOf(discordUserId)).kits ?? [],
    async getKit(discordUserId, name) {
      const kit = (await libraryOf(discordUserId)).kits?.find((candidate) => sameName(candidate.name, name));
      if (!kit) return undefined;
      const avatar = kit.avatar && (await imageOf(discordUserId, kit.avatar.hash));
      const banner = kit.banner && (await imageOf(discordUserId, kit.banner.hash));
      return { ...kit, images: { ...(avatar ? { avatar } : {}), ...(banner ? { banner } : {}) } };
    },
    remove: (discordUserId, name) => locked(discordUserId, async () => {
      const before = await libraryOf(discordUserId);
      const item = before.items.find((candidate) => sameName(candidate.name, name));
      const kit = item ? undefined : before.kits?.find((candidate) => sameName(candidate.name, name));
      if (!item && !kit) throw new LibraryError('not-found', { name: excerpt(name) });
      const after: StoredLibrary = { items: before.items.filter((candidate) => candidate !== item), kits: (before.kits ?? []).filter((candidate) => candidate !== kit) };
      await libraries.set(discordUserId, after);
      await dropUnused(discordUserId, before, after);
      return (item ?? kit)!;
    }),
    async search(discordUserId, query, limit = 25) {
      const needle = nameKey(query);
      const library = await libraryOf(discordUserId);
      const names = [...library.items, ...(library.kits ?? [])].map((item) => item.name);
      const starts = names.filter((name) => nameKey(name).startsWith(needle));
      const contains = names.filter((name) => !starts.includes(name) && nameKey(name).includes(needle));
      return [...starts, ...contains].slice(0, limit);
    },
    forget: (discordUserId) => locked(discordUserId, async () => {
      for (const hash of referenced(await libraryOf(discordUserId))) await images.delete(imageKey(discordUserId, hash));
      await libraries.delete(discordUserId);
    }),
  };
}
