import { UserFacingError } from '../errors.js';

/** Why a schedule, a time zone or a date typed by a user was refused. */
export const SCHEDULE_ERROR_KINDS = ['invalid-timezone', 'invalid-date', 'invalid-cron', 'invalid-priority', 'too-frequent', 'empty-rotation', 'too-many'] as const;
export type ScheduleErrorKind = (typeof SCHEDULE_ERROR_KINDS)[number];

export class ScheduleError extends UserFacingError<ScheduleErrorKind> {}
