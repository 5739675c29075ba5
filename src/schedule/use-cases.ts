/**
 * What the edges do with a user's schedules, besides `scheduler.edit` (which writes a record and re-plans in
 * one call, for every change of what is planned): read the record for display, and the two writes that do
 * not change the plan, so they do not re-plan (a re-plan applies what is due now in every process; where
 * notices go, or a notice shown, changes nothing of that).
 */
import type { NotifySetting, ScheduleRecord, ScheduleStore } from './store.js';

export interface ScheduleUseCases {
  /** The user's record as stored (an empty one when they have none), for replies and autocomplete. */
  get(discordUserId: string): Promise<ScheduleRecord>;
  /** Where scheduled changes are told: not part of the plan. */
  setNotify(discordUserId: string, notify: NotifySetting): Promise<void>;
  /** The failure the user was not told of yet (DMs failed), taken at once so two commands show it once. */
  takePendingNotice(discordUserId: string): Promise<ScheduleRecord['pendingNotice']>;
}

export function createScheduleUseCases(schedules: ScheduleStore): ScheduleUseCases {
  return {
    get: (discordUserId) => schedules.get(discordUserId),
    async setNotify(discordUserId, notify) {
      await schedules.update(discordUserId, (draft) => void (draft.notify = notify));
    },
    async takePendingNotice(discordUserId) {
      // Most commands find none: a read, without the record's lock.
      if (!(await schedules.get(discordUserId)).pendingNotice) return undefined;
      let notice: ScheduleRecord['pendingNotice'];
      await schedules.update(discordUserId, (draft) => {
        notice = draft.pendingNotice;
        delete draft.pendingNotice;
      });
      return notice;
    },
  };
}
