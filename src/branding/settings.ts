/** Per-server branding settings and the log of what admins did (also posted to the log channel). */
import type Keyv from 'keyv';
import type { Store } from '../store/backend.js';

export interface BrandingLogEntry {
  at: string;
  adminId: string;
  action: 'push' | 'revert' | 'season';
  label: string;
  summary: string;
}

export interface GuildBrandingSettings {
  logChannelId?: string;
  log: BrandingLogEntry[];
}

export const LOG_LIMIT = 50;

export interface BrandingSettings {
  get(guildId: string): Promise<GuildBrandingSettings>;
  setLogChannel(guildId: string, channelId: string | undefined): Promise<void>;
  record(guildId: string, entry: BrandingLogEntry): Promise<GuildBrandingSettings>;
}

export function createBrandingSettings(store: Store): BrandingSettings {
  const settings: Keyv<GuildBrandingSettings> = store.namespace<GuildBrandingSettings>('branding-settings');
  const get = async (guildId: string) => (await settings.get(guildId)) ?? { log: [] };
  const locked = <T>(guildId: string, work: () => Promise<T>) => store.locked(`branding-settings:${guildId}`, work);
  return {
    get,
    setLogChannel: (guildId, channelId) =>
      locked(guildId, async () => {
        const current = await get(guildId);
        const { logChannelId: _, ...rest } = current;
        await settings.set(guildId, channelId ? { ...rest, logChannelId: channelId } : rest);
      }),
    record: (guildId, entry) =>
      locked(guildId, async () => {
        const current = await get(guildId);
        const next = { ...current, log: [...current.log, entry].slice(-LOG_LIMIT) };
        await settings.set(guildId, next);
        return next;
      }),
  };
}
