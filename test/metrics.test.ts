/**
 * GET /metrics through the real bot (discord.js against the Discord-compatible server, the X-compatible
 * server): the exposition parses as Prometheus text, a command moves its counters and histograms, no label
 * carries an id, a forged command name adds no series, and METRICS=off has no endpoint.
 */
import { describe, expect, it } from 'vitest';
import { xFaults, X_PATHS } from './support/x-server.js';
import { eventually } from './support/eventually.js';
import { dueWhileDownRecord } from './support/due-schedules.js';
import type { Harness } from './support/bot-harness.js';
import { avatarCommand, fixture, image, SLOW_MS, useHarness } from './bot/helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;

/**
 * The text format 0.0.4, strictly: every line is empty (ignored), `# HELP name text`, `# TYPE name type`
 * (TYPE before the samples of its metric, once), or `name{label="value",…} value`; label values
 * unescaped. Throws on anything else.
 */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  const typed = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      expect(comment[2]).toMatch(METRIC_NAME);
      if (comment[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(comment[3]);
        expect(typed.has(comment[2]!), `TYPE of ${comment[2]} twice`).toBe(false);
        typed.add(comment[2]!);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = sample[2] ?? '';
    while (rest.length > 0) {
      const label = LABEL.exec(rest);
      if (!label) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[label[1]!] = label[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(label[0].length);
    }
    // A float as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case; prom-client writes `Nan`).
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(sample[3]!);
    const value = special ? (special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(sample[3]);
    if (Number.isNaN(value) && !special) throw new Error(`bad value in ${JSON.stringify(line)}`);
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '');
    expect(typed.has(sample[1]!) || typed.has(family), `a sample of ${sample[1]} before its TYPE`).toBe(true);
    samples.push({ name: sample[1]!, labels, value });
  }
  return samples;
}

async function scrape(h: Harness): Promise<Sample[]> {
  const response = await fetch(`${h.httpUrl()}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

/** The sum of the samples named `name` whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([key, value]) => s.labels[key] === value)).reduce((sum, s) => sum + s.value, 0);
}

/** Every series, as `name{labels}`, to compare which exist. */
const seriesOf = (samples: Sample[]) => samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort();

const UPLOAD = X_PATHS.updateProfileImage;
const AVATAR_SET = { type: 'command', command: 'avatar', subcommand: 'set' };

describe('GET /metrics', () => {
  const h = useHarness({ discord: { heartbeatIntervalMs: 300 } });

  it('parses as Prometheus text, names every metric avatar_bot_*, and carries the process and gateway metrics', async () => {
    const samples = await scrape(h);
    expect(samples.filter((s) => !s.name.startsWith('avatar_bot_')).map((s) => s.name)).toEqual([]);
    expect(total(samples, 'avatar_bot_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'avatar_bot_nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(samples.some((s) => s.name === 'avatar_bot_schedule_timers_armed')).toBe(true);
    // The gateway's ping once discord.js has had a heartbeat acknowledged (every 300 ms here).
    await eventually(async () => expect((await scrape(h)).filter((s) => s.name === 'avatar_bot_gateway_ping_seconds').map((s) => s.labels)).toEqual([{ shard: '0' }]));
    const response = await fetch(`${h.httpUrl()}/metrics`, { method: 'POST' });
    expect(response.status).toBe(405);
  });

  it('/avatar set moves the interaction counter, the ack histogram, the X request counter for update_profile_image and the normalisations', async () => {
    const user = h.discord.addMember({ username: 'metrics-ann' });
    await h.linkUser(user, 'metrics_ann');
    const before = await scrape(h);

    const { reply } = await avatarCommand(h, user, 'set', image('me.jpg', fixture('Landscape_5.jpg')));
    expect(reply.embeds[0]?.title).toBe('Avatar updated');

    await eventually(async () => {
      const after = await scrape(h);
      const moved = (name: string, match: Record<string, string> = {}) => total(after, name, match) - total(before, name, match);
      expect(moved('avatar_bot_interactions_total', { ...AVATAR_SET, outcome: 'ok' })).toBe(1);
      expect(moved('avatar_bot_interaction_ack_seconds_count', AVATAR_SET)).toBe(1);
      expect(moved('avatar_bot_interaction_ack_seconds_bucket', { ...AVATAR_SET, le: '+Inf' })).toBe(1);
      expect(moved('avatar_bot_x_requests_total', { endpoint: UPLOAD, status: '200' })).toBe(1);
      expect(moved('avatar_bot_x_request_seconds_count', { endpoint: UPLOAD })).toBe(1);
      // The attachment, and the user's avatar from before the bot (saved as their original).
      expect(moved('avatar_bot_image_normalisations_total', { target: 'avatar', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
      expect(moved('avatar_bot_image_normalisation_seconds_count', { target: 'avatar' })).toBe(moved('avatar_bot_image_normalisations_total', { target: 'avatar' }));
    }, SLOW_MS);
  });

  it('counts a refusal as a user error, a refused image by its kind, and X rate limits with the remaining count', async () => {
    const user = h.discord.addMember({ username: 'metrics-ben' });
    await h.linkUser(user, 'metrics_ben');
    const before = await scrape(h);

    const { reply: refused } = await avatarCommand(h, user, 'set', image('notes.png', Buffer.from('not an image at all')));
    expect(refused.content).toMatch(/^That file isn't an image/);
    h.x.fail(xFaults.rateLimited(UPLOAD, Math.floor(Date.now() / 1000) + 900));
    const { reply: limited } = await avatarCommand(h, user, 'set', image('me.jpg', fixture('Landscape_5.jpg')));
    expect(limited.embeds).toEqual([]);

    await eventually(async () => {
      const after = await scrape(h);
      const moved = (name: string, match: Record<string, string> = {}) => total(after, name, match) - total(before, name, match);
      expect(moved('avatar_bot_interactions_total', { ...AVATAR_SET, outcome: 'user-error' })).toBe(2);
      expect(moved('avatar_bot_interactions_total', { ...AVATAR_SET, outcome: 'ok' })).toBe(0);
      expect(moved('avatar_bot_image_normalisations_total', { target: 'avatar', outcome: 'unsupported-format' })).toBe(1);
      expect(moved('avatar_bot_x_requests_total', { endpoint: UPLOAD, status: '429' })).toBe(1);
      expect(total(after, 'avatar_bot_x_rate_limit_remaining', { endpoint: UPLOAD })).toBe(0);
      expect(after.some((s) => s.name === 'avatar_bot_x_rate_limit_remaining' && s.labels.endpoint === UPLOAD)).toBe(true);
    }, SLOW_MS);
  });

  it('an unregistered command name (an id, even) adds no series and is counted as unknown', async () => {
    const user = h.discord.addMember({ username: 'metrics-eve' });
    const before = await scrape(h);
    const forged = await h.discord.slash(user, { name: '123456789012345678', subcommand: '987654321098765432' });
    await forged.waitForReply();
    const other = await h.discord.slash(user, { name: 'drop-table' });
    await other.waitForReply();

    await eventually(async () => {
      const after = await scrape(h);
      const unknown = { type: 'command', command: 'unknown', subcommand: 'unknown' };
      expect(total(after, 'avatar_bot_interactions_total', unknown) - total(before, 'avatar_bot_interactions_total', unknown)).toBe(2);
      expect(total(after, 'avatar_bot_interaction_ack_seconds_count', unknown) - total(before, 'avatar_bot_interaction_ack_seconds_count', unknown)).toBe(2);
      const without = (samples: Sample[]) => seriesOf(samples).filter((series) => !series.startsWith('avatar_bot_gateway_ping') && !/^avatar_bot_(process|nodejs)_/.test(series));
      expect(without(after)).toEqual(without(before));
      for (const sample of after) expect(Object.values(sample.labels)).not.toContain('drop-table');
    }, SLOW_MS);
  });

  it('no label value is a Discord snowflake, an X user id or a screen name', async () => {
    const samples = await scrape(h);
    const xIds = [...h.x.users.values()].map((user) => user.id);
    expect(xIds.length).toBeGreaterThan(0);
    const values = new Set(samples.flatMap((s) => Object.values(s.labels)));
    expect(values.size).toBeGreaterThan(10);
    for (const value of values) {
      expect(value).not.toMatch(/^\d{15,21}$/);
      expect(value).not.toMatch(/metrics[_-](ann|ben|eve)/);
      expect(xIds).not.toContain(value);
    }
  });
});

describe('pushes and the schedule catch-up', () => {
  const h = useHarness();

  it('a push is running while it runs and counts its members; a catch-up after a restart counts the change it made', async () => {
    const guildId = h.discord.guild.id;
    const admin = h.discord.addMember({ username: 'metrics-admin' });
    const members = [h.discord.addMember(), h.discord.addMember(), h.discord.addMember()];
    for (const member of members.slice(0, 2)) await h.linkUser(member);
    for (const member of members) await h.services.branding.consent.join(guildId, member.id);
    const team = await h.services.normalizer.normalize(fixture('Landscape_5.jpg'));
    // X holds the first upload a moment, so the push is seen running.
    h.x.fail({ path: UPLOAD, hangMs: 1500 });
    const jobId = await h.services.branding.pushes.start({ guildId, adminId: admin.id, image: { data: team.data, format: team.format }, label: 'team' });
    const pushed = h.services.branding.pushes.run(jobId);
    await eventually(async () => expect(total(await scrape(h), 'avatar_bot_pushes_running', { phase: 'push' })).toBe(1), SLOW_MS);
    const job = await pushed;
    expect(Object.values(job.results).map((result) => result.status).sort()).toEqual(['done', 'done', 'failed']);
    await eventually(async () => {
      const afterPush = await scrape(h);
      expect(total(afterPush, 'avatar_bot_pushes_running', { phase: 'push' })).toBe(0);
      expect(total(afterPush, 'avatar_bot_push_members_total', { phase: 'push', status: 'done' })).toBe(2);
      expect(total(afterPush, 'avatar_bot_push_members_total', { phase: 'push', status: 'failed' })).toBe(1);
    });

    // A change that came due while the bot was down: the catch-up at the next start makes it.
    const user = h.discord.addMember({ username: 'metrics-late' });
    await h.linkUser(user);
    for (const name of ['a', 'b']) await h.records.library.add(user.id, name, { data: team.data, format: team.format });
    await h.records.schedules.update(user.id, () => dueWhileDownRecord(0, Date.now()));
    const uploads = h.x.uploads.length;
    await h.restart();
    expect(h.x.uploads.length).toBe(uploads + 1);
    expect(total(await scrape(h), 'avatar_bot_schedule_catch_up_changes_total')).toBe(1);
  });
});

describe('METRICS=off', () => {
  const h = useHarness({ env: { METRICS: 'off' } });

  it('answers 404 and records nothing', async () => {
    const response = await fetch(`${h.httpUrl()}/metrics`);
    expect(response.status).toBe(404);
    expect(h.services.metrics.enabled).toBe(false);
    expect(await h.services.metrics.exposition()).toBe('');
    expect((await fetch(`${h.httpUrl()}/healthz`)).status).toBe(200);
  });
});

describe('the fire lateness and the gateway ping, by value', () => {
  const clock = { offset: 0, now: () => Date.now() + clock.offset };
  const h = useHarness({ clock, discord: { heartbeatIntervalMs: 300 } });

  it('a timer that fires is one observation of how late it started, in seconds; the ping is the heartbeat round trip in seconds', async () => {
    const user = h.discord.addMember({ username: 'metrics-fire' });
    await h.linkUser(user);
    const team = await h.services.normalizer.normalize(fixture('Landscape_5.jpg'));
    for (const name of ['a', 'b']) await h.records.library.add(user.id, name, { data: team.data, format: team.format });
    // An event at the next whole minute over a default image that is applied; the clock 1.5 s before it.
    const eventMs = Math.ceil((Date.now() + 120_000) / 60_000) * 60_000;
    const record = dueWhileDownRecord(0, eventMs + 3_600_000);
    await h.records.schedules.update(user.id, () => record);
    // Not a whole number of seconds: node-cron fires at the start of a real second, which was up to a second
    // before the instant on this clock (a fire that found nothing due, then a second one).
    clock.offset = eventMs - 1500 - Date.now() + 337;
    const before = total(await scrape(h), 'avatar_bot_schedule_fire_lateness_seconds_count');
    const uploads = h.x.uploads.length;
    await h.services.scheduler.refresh(user.id);
    await eventually(async () => expect(h.x.uploads.length).toBe(uploads + 1), SLOW_MS);
    const samples = await scrape(h);
    expect(total(samples, 'avatar_bot_schedule_fire_lateness_seconds_count') - before).toBe(1);
    // Started within seconds of its instant (a millisecond figure would read as hundreds of seconds).
    const lateness = total(samples, 'avatar_bot_schedule_fire_lateness_seconds_sum');
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(5);
    // A heartbeat on 127.0.0.1 comes back within a fraction of a second; in milliseconds it would read as ≥ 1.
    await eventually(async () => {
      const ping = (await scrape(h)).filter((s) => s.name === 'avatar_bot_gateway_ping_seconds');
      expect(ping).toHaveLength(1);
      expect(ping[0]!.value).toBeGreaterThanOrEqual(0);
      expect(ping[0]!.value).toBeLessThan(0.5);
    });
    clock.offset = 0;
  });
});
