/**
 * The bot as a process: its health endpoint, and a graceful stop that lets commands in flight finish
 * and turns new ones away.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/backend.js';
import { createAvatarHistory } from '../../src/avatar/history.js';
import { dueWhileDownRecord } from '../support/due-schedules.js';
import { X_PATHS } from '../support/x-server.js';
import { customIdOf, expectPlainEphemeral, fixture, image, SLOW_MS, useHarness } from './helpers.js';

describe('a running bot', () => {
  const h = useHarness();

  it('GET /healthz answers 200 ok with the gateway ready and the store reachable', async () => {
    const response = await fetch(`${h.httpUrl()}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ status: 'ok', gateway: 'ready', store: 'ok' });
  });

  it('answers other paths with 404', async () => {
    expect((await fetch(`${h.httpUrl()}/nothing`)).status).toBe(404);
  });
});

describe('graceful stop', () => {
  const h = useHarness();

  it('finishes the command in flight, turns a new command away, then stops', async () => {
    const busy = h.discord.addMember({ username: 'stop-busy' });
    const late = h.discord.addMember({ username: 'stop-late' });
    const xBusy = await h.linkUser(busy, 'busy_x');
    const xLate = await h.linkUser(late, 'late_x');
    h.x.setUploadLatency(1500);

    const set = await h.discord.slash(busy, { name: 'avatar', subcommand: 'set', options: { image: image('me.jpg', fixture('flowers.jpeg')) } });
    // Stop while X is still working on the upload.
    await h.discord.waitFor(() => h.x.requests.some((request) => request.path === X_PATHS.updateProfileImage && request.status === 0), SLOW_MS, 'the upload to reach X');
    expect(h.bot.inFlight).toBe(1);
    const healthz = `${h.httpUrl()}/healthz`;
    let stopped = false;
    const stopping = h.bot.stop().then(() => (stopped = true));

    const requests = h.x.requests.length;
    const turnedAway = await h.discord.slash(late, { name: 'twitter', subcommand: 'status' });
    const refusal = await turnedAway.waitForReply();
    expectPlainEphemeral(turnedAway, refusal, 'The bot is restarting; try again in a minute.');
    expect(turnedAway.callbacks[0]?.type).toBe(4);
    expect(stopped).toBe(false);

    const done = await set.waitForReply(undefined, SLOW_MS);
    expect(done.embeds[0]?.title).toBe('Avatar updated');
    expect(h.x.uploads.at(-1)?.userId).toBe(xBusy.id);
    expect(set.files[0]!.bytes.equals(h.x.uploads.at(-1)!.bytes)).toBe(true);
    // The turned-away command reached nothing behind the bot: no request to X with its tokens.
    expect(h.x.requests.slice(requests).filter((request) => request.oauthParams?.oauth_token === xLate.accessToken.token)).toEqual([]);

    await stopping;
    expect(h.bot.inFlight).toBe(0);
    await h.discord.waitFor(() => h.discord.sessions.every((session) => !session.connected), SLOW_MS, 'the gateway session to close');
    await expect(fetch(healthz)).rejects.toThrow();
    // What the finished command recorded is in the store the bot closed.
    const store = await openStore(h.config.storeUrl);
    try {
      expect((await createAvatarHistory(store).get(busy.id)).entries).toMatchObject([{ source: 'upload', label: 'attachment me.jpg' }]);
    } finally {
      await store.close();
    }
  });
});

describe('graceful stop during a confirmation', () => {
  const h = useHarness();

  it('an /twitter unlink waiting for its confirmation still gets the click and finishes', async () => {
    const user = h.discord.addMember({ username: 'stop-unlink' });
    await h.linkUser(user, 'stop_unlink_x');
    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' });
    const question = await unlink.waitForReply();
    const stopping = h.bot.stop();

    const confirm = await unlink.click(customIdOf(question, 'twitter:unlink-confirm:'));
    const done = await confirm.waitForReply((message) => message.content.startsWith('Unlinked'), SLOW_MS);
    expect(done.content).toBe('Unlinked @stop_unlink_x: access revoked at X, tokens and history deleted.');
    expect(confirm.callbacks.map((callback) => [callback.type, callback.status])).toEqual([[7, 204]]);
    await stopping;
    expect(h.x.requests.filter((request) => request.path === X_PATHS.invalidateToken).map((request) => request.status)).toEqual([200]);
  });
});


describe('start-up after downtime', () => {
  // X takes a second to process each upload, and the bot waits it out: 1,000 changes due take many seconds.
  const h = useHarness({ waitForCatchUp: false, env: { TWITTER_PROCESSING_DELAY_MS: '1000' } });

  it('answers /twitter status while a 1,000-record catch-up is still running', { timeout: 120_000 }, async () => {
    const due = 1000;
    const nowMs = Date.now();
    const library = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#2050a0' } }).jpeg().toBuffer();
    // Written while the bot runs, straight to the store (no refresh): only the next start sees them.
    for (let i = 0; i < due; i++) {
      const id = String(700_000_000_000_000_000n + BigInt(i));
      const account = h.x.addUser({ screenName: `due${i}` });
      await h.records.vault.save(id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
      await h.services.library.add(id, 'a', { data: library, format: 'jpeg' });
      await h.services.library.add(id, 'b', { data: library, format: 'jpeg' });
      await h.records.schedules.update(id, () => dueWhileDownRecord(i, nowMs));
    }
    const asker = h.discord.addMember({ username: 'startup-asker' });
    await h.linkUser(asker, 'startup_asker_x');
    const uploadsBefore = h.x.uploads.length;

    await h.restart(); // resolves at READY: the catch-up of the 1,000 runs behind it
    let caughtUp = false;
    void h.bot.background.then(() => (caughtUp = true));
    const status = await h.discord.slash(asker, { name: 'twitter', subcommand: 'status' });
    const reply = await status.waitForReply(undefined, SLOW_MS);
    const uploadsAtReply = h.x.uploads.length - uploadsBefore;

    expect(reply.content + JSON.stringify(reply.embeds)).toContain('startup_asker_x');
    expect(caughtUp).toBe(false);
    expect(uploadsAtReply).toBeLessThan(due);
    // The catch-up is under way, not stalled: uploads keep arriving after the answer.
    await h.discord.waitFor(() => h.x.uploads.length - uploadsBefore > uploadsAtReply, SLOW_MS, 'more catch-up uploads');
  });
});
