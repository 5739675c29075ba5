/**
 * Replies to interactions do not wait behind the bot's other Discord traffic: discord.js spends one global
 * budget of 50 requests a second, and a wave of scheduled changes queues hundreds of DM notices in it.
 * Discord does not count interaction requests in that limit, so the bot sends them through a REST client
 * of their own (src/bot/client.ts). Through the real discord.js client and the real notice path.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createDiscordClient, interactionRestOf, SINGLE_SHARD } from '../../src/bot/client.js';
import { deliverNotice } from '../../src/bot/notify.js';
import { startDiscordServer, type RecordedCall } from '../support/discord-server.js';
import { useHarness } from './helpers.js';

/** Three requests each (the user, their DM channel, the message): about nine seconds of the bot's budget. */
/** Each fetches its channel fresh first: 150 requests queued at once, three seconds of the bot's budget (and then its other requests). */
const NOTICES = 150;

describe('the REST budget', () => {
  const h = useHarness();

  it('a /twitter status asked while a wave of 150 channel notices starts is answered before the wave\'s requests queued ahead of it', async () => {
    const members = Array.from({ length: NOTICES }, (_, i) => h.discord.addMember({ username: `noticed-${i}` }));
    // Each member's notices go to a channel of their own (/schedule notify where:channel).
    const records = await Promise.all(
      members.map(async (member, i) => ({ ...(await h.services.schedules.get(member.id)), notify: { mode: 'channel' as const, channelId: h.discord.addChannel({ name: `notices-${i}` }).id } })),
    );
    const channelFetch = (call: RecordedCall) => call.route === 'GET /channels/:channel';
    const before = h.discord.calls.length;

    const notices = members.map((member, i) => deliverNotice(h.bot.client, member.id, records[i]!, { kind: 'changed', image: 'red', label: 'a rotation' }, 'en-US'));
    // The wave's first second sends 50 of them; the other 100 wait in discord.js's queue, ahead of the command.
    const asker = h.discord.addMember({ username: 'asker' });
    const status = await h.discord.slash(asker, { name: 'twitter', subcommand: 'status' });
    const reply = await status.waitForReply(undefined, 30_000);
    expect(reply.content).toContain('/twitter link');

    const answered = h.discord.calls.findIndex((call) => call.route.startsWith('PATCH /webhooks/') && call.path.includes(status.token));
    expect(answered).toBeGreaterThan(before);
    expect(await Promise.all(notices)).toEqual(members.map(() => true));
    expect(h.discord.calls.slice(before).filter(channelFetch).length).toBeGreaterThanOrEqual(NOTICES);
    // In one budget the answer waited behind the 100 look-ups queued before it (two more seconds): all 150 came first.
    expect(h.discord.calls.slice(before, answered).filter(channelFetch).length).toBeLessThan(100);
  }, 60_000);
});

describe('the REST clients\' handlers', () => {
  it('are dropped a moment after they go idle: one per reply (its interaction\'s token) and one per DM channel, kept an hour before', async () => {
    const discord = await startDiscordServer();
    const client = createDiscordClient({ discordApiUrl: discord.apiUrl }, SINGLE_SHARD, { handlerSweepMs: 1000 });
    client.rest.setToken(discord.botToken);
    try {
      // The routes discord.js edits a reply and posts a DM on, for 20 interactions and 20 channels (unknown here: 404).
      const sent = await Promise.allSettled([
        ...Array.from({ length: 20 }, (_, i) => client.rest.patch(`/webhooks/${discord.applicationId}/token-${i}/messages/@original`, { auth: false, body: { content: 'done' } })),
        ...Array.from({ length: 20 }, (_, i) => client.rest.post(`/channels/${900_000_000_000_000_000n + BigInt(i)}/messages`, { body: { content: 'changed' } })),
      ]);
      expect(sent.every((request) => request.status === 'rejected')).toBe(true);
      const replies = interactionRestOf(client)!.handlers;
      const ours = () => [...replies.keys(), ...client.rest.handlers.keys()].filter((key) => /token-|9000000000000000/.test(key));
      expect(ours()).toHaveLength(40);
      await sleep(2500);
      expect(ours()).toEqual([]);
      expect(discord.calls.filter((call) => call.route.startsWith('PATCH /webhooks/') || call.route.startsWith('POST /channels/'))).toHaveLength(40);
    } finally {
      await client.destroy();
      await discord.close();
    }
  });
});
