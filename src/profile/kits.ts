/**
 * Applying a kit from the library: its images as they are, its name and bio templates filled with the
 * user's own values (src/profile/text.ts fillTemplate: only the user's part is ever shortened), every
 * part one recorded change (applyParts). The user's own value of a part is what X shows, unless X still
 * shows what the bot last applied there: then it is the value from before the bot's first change (the
 * part's saved original), so "🎃 {name}" after "Team | {name}" gives "🎃 Ana", not "🎃 Team | Ana".
 */
import type { AvatarHistory } from '../avatar/history.js';
import type { AvatarChanges, ChangeOptions, PartResults, PartValues } from '../avatar/changes.js';
import type { AvatarSource } from '../avatar/history.js';
import type { Kit } from '../library/store.js';
import type { XClient, XUser } from '../x/client.js';
import { fillTemplate, PROFILE_TEXT_LIMITS, type TemplateValues } from './text.js';
import type { TextPart } from './parts.js';

export interface KitDeps {
  avatars: Pick<AvatarChanges, 'applyParts' | 'requireActiveLink'>;
  histories: Record<TextPart, AvatarHistory>;
  x: Pick<XClient, 'verifyCredentials'>;
}

export interface Kits {
  /** The values the kit gives this user (templates filled), without applying them. */
  /** `current`: the profile the caller read just before (a scheduled change's hand-change check), not read again. */
  valuesFor(discordUserId: string, kit: Kit, current?: XUser): Promise<PartValues>;
  apply(discordUserId: string, kit: Kit, source: AvatarSource, label: string, options?: ChangeOptions): Promise<PartResults>;
}

const PLACEHOLDER = /\{(name|bio)\}/;

export function createKits(deps: KitDeps): Kits {
  async function ownText(discordUserId: string, part: TextPart, current: XUser): Promise<string> {
    const shown = part === 'name' ? current.name : (current.description ?? '');
    const { entries, original } = await deps.histories[part].get(discordUserId);
    if (entries.at(-1)?.text !== shown || !original?.saved) return shown;
    return 'none' in original ? '' : (original.text ?? shown);
  }

  async function ownValues(discordUserId: string, current: XUser): Promise<TemplateValues> {
    const [name, bio] = await Promise.all([ownText(discordUserId, 'name', current), ownText(discordUserId, 'bio', current)]);
    return { name, bio };
  }

  async function valuesFor(discordUserId: string, kit: Kit, current?: XUser): Promise<PartValues> {
    const templated = [kit.nameTemplate, kit.bioTemplate].some((template) => template !== undefined && PLACEHOLDER.test(template));
    // X is asked only when a template needs the user's own values.
    const own = templated ? await ownValues(discordUserId, current ?? (await deps.x.verifyCredentials(await deps.avatars.requireActiveLink(discordUserId)))) : {};
    return {
      ...(kit.images.avatar ? { avatar: kit.images.avatar } : {}),
      ...(kit.images.banner ? { banner: kit.images.banner } : {}),
      ...(kit.nameTemplate !== undefined ? { name: { text: fillTemplate(kit.nameTemplate, own, PROFILE_TEXT_LIMITS.name) } } : {}),
      ...(kit.bioTemplate !== undefined ? { bio: { text: fillTemplate(kit.bioTemplate, own, PROFILE_TEXT_LIMITS.description) } } : {}),
    };
  }

  return {
    valuesFor,
    async apply(discordUserId, kit, source, label, options) {
      return deps.avatars.applyParts(discordUserId, await valuesFor(discordUserId, kit), source, label, options);
    },
  };
}
