import { UserFacingError } from '../errors.js';

/** Why a schedule, a time zone or a date typed by a user was refused. */
export type ScheduleErrorKind =
  | 'invalid-timezone'
  | 'invalid-date'
  | 'invalid-cron'
  | 'invalid-priority'
  | 'too-frequent'
  | 'empty-rotation'
  | 'too-many';

export class ScheduleError extends UserFacingError<ScheduleErrorKind> {}
