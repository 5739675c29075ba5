/**
 * Schedules that came due while the bot was down, for the start-up test and the schedules benchmark:
 * a one-shot event that started an hour ago (image "b"), over a default image "a" that is still applied.
 * The catch-up at the next start must upload "b" once for each of them.
 */
import { activeImageAt } from '../../src/schedule/engine.js';
import type { ScheduleRecord } from '../../src/schedule/store.js';

const HOUR_MS = 3_600_000;
const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

export function dueWhileDownRecord(i: number, nowMs: number): ScheduleRecord {
  const atMs = Math.floor((nowMs - HOUR_MS) / 60_000) * 60_000;
  const record: ScheduleRecord = {
    timezone: 'UTC',
    defaultImage: 'a',
    schedules: [{ kind: 'event', id: `due${i}`, createdAt: new Date(nowMs - 48 * HOUR_MS).toISOString(), image: 'b', at: minute(atMs), atUtc: new Date(atMs).toISOString() }],
    notify: { mode: 'off' },
    applied: { image: 'a', at: new Date(nowMs - 24 * HOUR_MS).toISOString() },
    lastRun: { at: new Date(nowMs - 24 * HOUR_MS).toISOString(), outcome: 'applied', detail: 'a' },
  };
  if (activeImageAt(record, new Date(nowMs)).image !== 'b') throw new Error('a due-while-down record does not call for "b"');
  return record;
}
