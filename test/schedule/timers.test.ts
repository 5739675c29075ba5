/**
 * The scheduler's timers (src/schedule/timers.ts) on node-cron, on the real clock: a plan whose task fired
 * or was skipped is spent, so the minutely housekeeping never arms it again while its run is still going
 * (bench scale found 1,820 fires for 1,000 changes: each run that was still waiting for X when a minute
 * began fired a second time, ten seconds late).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunCoordinator } from 'node-cron';
import { afterEach, expect, it } from 'vitest';
import { localCoordination, type Coordination } from '../../src/coordination/runs.js';
import { createTimers, type Timers } from '../../src/schedule/timers.js';
import { eventually } from '../support/eventually.js';

const clock = { offset: 0, now: () => Date.now() + clock.offset };
let timers: Timers | undefined;
afterEach(async () => {
  clock.offset = 0;
  await timers?.stop();
  timers = undefined;
});

/** A run coordinator that gives every ask the same answer and notes the keys asked. */
const coordinatorAnswering = (answer: boolean, asked: string[]): RunCoordinator => ({
  shouldRun: (key) => {
    asked.push(key);
    return answer;
  },
});

function timersWith(coordination: Coordination) {
  const fires: number[] = [];
  const skips: string[] = [];
  let finish: () => void = () => undefined;
  const running = new Promise<void>((resolve) => (finish = resolve));
  timers = createTimers({
    clock,
    armWindowMs: 10 * 60_000,
    coordination,
    fire: async (_user, dueMs) => {
      fires.push(dueMs);
      await running; // a run still waiting for X
    },
    skipped: (user) => void skips.push(user),
  });
  return { timers, fires, skips, finish };
}

it('a fire whose run is still going when the housekeeping passes fires once', async () => {
  const { timers, fires, finish } = timersWith(localCoordination());
  timers.planAt('u1', Date.now() + 1000);
  await eventually(async () => expect(fires).toHaveLength(1));
  expect(timers.planned('u1')).toBeUndefined();

  timers.armNear(); // a minute began while the run waits
  await sleep(2500); // past the second a re-armed task would fire in
  finish();
  expect(fires).toHaveLength(1);
  expect(timers.armed).toBe(0);
});

it('a fire another process was elected for is handed on once, not asked for again by the housekeeping', async () => {
  const asked: string[] = [];
  const elsewhere = coordinatorAnswering(false, asked);
  const { timers, fires, skips } = timersWith({ ...localCoordination(), distributed: true, coordinator: elsewhere });
  timers.planAt('u2', Date.now() + 1000);
  await eventually(async () => expect(skips).toEqual(['u2']));

  timers.armNear();
  await sleep(2500);
  expect(asked).toHaveLength(1);
  expect(skips).toEqual(['u2']);
  expect(fires).toEqual([]);
});

it('the housekeeping arms a plan once it comes within the window, and only then', async () => {
  const { timers, fires } = timersWith(localCoordination());
  const at = clock.now() + 60 * 60_000;
  timers.planAt('later', at);
  timers.armNear();
  expect(timers.planned('later')).toEqual({ at, armed: false });

  clock.offset = 60 * 60_000 - 2000; // the change is two seconds away on the scheduler's clock
  timers.armNear();
  expect(timers.planned('later')).toEqual({ at, armed: true });
  await eventually(async () => expect(fires).toEqual([Math.ceil(at / 1000) * 1000]));
});

it('a change due on a whole second is armed for that second when the clock is read across a millisecond tick', async () => {
  const keys: string[] = [];
  const electing = coordinatorAnswering(true, keys);
  // Every second read of this clock ends after the millisecond it returned (a busy event loop, a slow read).
  let reads = 0;
  const straddling = {
    now: () => {
      const now = Date.now();
      if (++reads % 2 === 0) while (Date.now() === now);
      return now;
    },
  };
  const fires: number[] = [];
  timers = createTimers({ clock: straddling, armWindowMs: 10 * 60_000, coordination: { ...localCoordination(), distributed: true, coordinator: electing }, fire: async (_user, dueMs) => void fires.push(dueMs), skipped: () => undefined });
  const dueMs = Math.ceil((Date.now() + 2000) / 1000) * 1000;
  timers.planAt('u3', dueMs);
  await eventually(async () => expect(fires).toEqual([dueMs]));
  // The lease every process asks for: this second's, not the next one's (which no other process would ask for).
  expect(keys).toEqual([`avatar:u3:${dueMs}:${new Date(dueMs).toISOString()}`]);
});
