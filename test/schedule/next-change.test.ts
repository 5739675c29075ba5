/**
 * "Next change" in /schedule list is when the change will really happen: a change the minimum interval
 * holds back is shown at the end of the hold, and applied then. The real bot against the local servers,
 * with a 15-minute minimum interval and the scheduler's clock moved forward.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { formatInZone } from '../../src/schedule/engine.js';
import type { TestUser } from '../support/discord-server.js';
import { useHarness } from '../bot/helpers.js';

const clock = { offset: 0, now: () => Date.now() + clock.offset };
const setNow = (at: number, leadMs = 0) => {
  clock.offset = at - leadMs - Date.now();
};
const MIN_INTERVAL_MS = 15 * 60_000;
const h = useHarness({ clock, env: { SCHEDULE_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS) } });

async function schedule(user: TestUser, subcommand: string, options: Record<string, string> = {}): Promise<string> {
  const interaction = await h.discord.slash(user, { name: 'schedule', subcommand, options });
  return (await interaction.waitForReply(undefined, 15_000)).content;
}

describe('/schedule list', () => {
  it('shows a change held back by the minimum interval at the time it really happens, and it happens then', async () => {
    const user = h.discord.addMember({ username: 'patient' });
    const account = await h.linkUser(user, 'patient_x');
    for (const [name, colour] of [['usual', '#777777'], ['party', '#ff00ff']] as const) {
      const data = await sharp({ create: { width: 400, height: 400, channels: 3, background: colour } }).jpeg().toBuffer();
      await h.services.library.add(user.id, name, { data, format: 'jpeg' });
    }
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    const uploads = () => h.x.uploads.filter((upload) => upload.userId === account.id);

    await schedule(user, 'default', { image: 'usual' });
    await h.discord.waitFor(() => uploads().length === 1, 10_000, 'the default image');
    for (let tries = 0; !(await h.services.schedules.get(user.id)).applied; tries++) {
      expect(tries).toBeLessThan(100);
      await new Promise((done) => setTimeout(done, 50));
    }
    const appliedAt = Date.parse((await h.services.schedules.get(user.id)).applied!.at);
    // An event 5 to 6 minutes after that change: the minimum interval holds it back to 15 minutes after it.
    const eventAt = Math.ceil((appliedAt + 5 * 60_000) / 60_000) * 60_000;
    const local = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
    await schedule(user, 'event', { image: 'party', at: local(eventAt), until: local(eventAt + 2 * 3_600_000) });
    const heldUntil = appliedAt + MIN_INTERVAL_MS;
    const expected = `Next change: ${formatInZone(new Date(heldUntil), 'UTC')} → party (held back: changes are at least 15 minutes apart)`;
    expect(await schedule(user, 'list')).toContain(expected);

    // The event starts: nothing yet, and the list still says when it will happen.
    setNow(eventAt, 1500);
    await h.services.scheduler.refresh(user.id);
    await new Promise((done) => setTimeout(done, 3000));
    expect(uploads()).toHaveLength(1);
    expect(await schedule(user, 'list')).toContain(expected);
    expect(h.services.scheduler.plannedAt(user.id)?.getTime()).toBe(heldUntil);

    // It happens at the time shown.
    setNow(heldUntil, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploads().length === 2, 10_000, 'the held-back event');
    expect(uploads()[1]!.at + clock.offset).toBeGreaterThanOrEqual(heldUntil - 50);
    clock.offset = 0;
  });
});
