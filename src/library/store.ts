/**
 * A user's named images for schedules: normalised bytes stored under a name the user picks.
 * Images are content-addressed per user, so two names for one picture store it once.
 */
import type Keyv from 'keyv';
import { UserFacingError } from '../errors.js';
import type { Store } from '../store/backend.js';
import { excerpt, listWithMore } from '../text.js';
import { hashImage, type StoredImage } from '../avatar/history.js';

export const LIBRARY_LIMIT = 50;

export const LIBRARY_ERROR_KINDS = ['invalid-name', 'name-taken', 'not-found', 'full'] as const;
export class LibraryError extends UserFacingError<(typeof LIBRARY_ERROR_KINDS)[number]> {}

export interface LibraryItem {
  name: string;
  hash: string;
  format: StoredImage['format'];
  addedAt: string;
}

interface StoredLibrary {
  items: LibraryItem[];
}

export interface AvatarLibrary {
  list(discordUserId: string): Promise<LibraryItem[]>;
  get(discordUserId: string, name: string): Promise<(LibraryItem & { image: StoredImage }) | undefined>;
  /** Throws LibraryError('not-found') with the names the user has. */
  require(discordUserId: string, name: string): Promise<LibraryItem & { image: StoredImage }>;
  /** Throws what add would (invalid name, name taken, library full) without an image: checked before downloading one. */
  checkRoom(discordUserId: string, name: string): Promise<void>;
  add(discordUserId: string, name: string, image: StoredImage): Promise<LibraryItem>;
  remove(discordUserId: string, name: string): Promise<LibraryItem>;
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

function checkRoom(current: LibraryItem[], name: string): void {
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
  const items = async (discordUserId: string) => (await libraries.get(discordUserId))?.items ?? [];
  /** Every change of a user's library reads, changes and writes it under the user's store lock. */
  const locked = <T>(discordUserId: string, work: () => Promise<T>) => store.locked(`library:${discordUserId}`, work);

  async function get(discordUserId: string, name: string) {
    const item = (await items(discordUserId)).find((candidate) => sameName(candidate.name, name));
    if (!item) return undefined;
    const record = await images.get(imageKey(discordUserId, item.hash));
    return record ? { ...item, image: { data: Buffer.from(record.data, 'base64'), format: record.format } } : undefined;
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
    checkRoom: async (discordUserId, rawName) => void checkRoom(await items(discordUserId), normaliseName(rawName)),
    add: (discordUserId, rawName, image) => locked(discordUserId, async () => {
      const name = normaliseName(rawName);
      const current = await items(discordUserId);
      checkRoom(current, name);
      const hash = hashImage(image.data);
      await images.set(imageKey(discordUserId, hash), { data: image.data.toString('base64'), format: image.format });
      const item: LibraryItem = { name, hash, format: image.format, addedAt: new Date().toISOString() };
      await libraries.set(discordUserId, { items: [...current, item] });
      return item;
    }),
    remove: (discordUserId, name) => locked(discordUserId, async () => {
      const current = await items(discordUserId);
      const item = current.find((candidate) => sameName(candidate.name, name));
      if (!item) throw new LibraryError('not-found', { name: excerpt(name) });
      const remaining = current.filter((candidate) => candidate !== item);
      await libraries.set(discordUserId, { items: remaining });
      if (!remaining.some((candidate) => candidate.hash === item.hash)) await images.delete(imageKey(discordUserId, item.hash));
      return item;
    }),
    async search(discordUserId, query, limit = 25) {
      const needle = nameKey(query);
      const names = (await items(discordUserId)).map((item) => item.name);
      const starts = names.filter((name) => nameKey(name).startsWith(needle));
      const contains = names.filter((name) => !starts.includes(name) && nameKey(name).includes(needle));
      return [...starts, ...contains].slice(0, limit);
    },
    forget: (discordUserId) => locked(discordUserId, async () => {
      for (const item of await items(discordUserId)) await images.delete(imageKey(discordUserId, item.hash));
      await libraries.delete(discordUserId);
    }),
  };
}
