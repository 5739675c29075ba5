/**
 * The library as the edges use it: the image store, and a removal that says which of the user's schedules
 * still name the image (they pause when they come due; the reply warns now).
 */
import type { Schedule } from '../schedule/engine.js';
import type { ScheduleRecord } from '../schedule/store.js';
import type { AvatarLibrary, KitItem, LibraryItem } from './store.js';

export interface LibraryUseCases extends Omit<AvatarLibrary, 'remove'> {
  remove(discordUserId: string, name: string): Promise<{ item: LibraryItem | KitItem; usedBy: Schedule[] }>;
}

export function createLibraryUseCases(library: AvatarLibrary, schedules: { get(discordUserId: string): Promise<ScheduleRecord> }): LibraryUseCases {
  return {
    ...library,
    async remove(discordUserId, name) {
      const item = await library.remove(discordUserId, name);
      const { schedules: all } = await schedules.get(discordUserId);
      const usedBy = all.filter((schedule) => (schedule.kind === 'rotation' ? schedule.images.includes(item.name) : schedule.image === item.name));
      return { item, usedBy };
    },
  };
}
