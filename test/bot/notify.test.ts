/**
 * /schedule notify where:channel through the real discord.js client: the member's and the bot's
 * permissions in that channel are checked when the setting is saved and again before each post; a
 * server where the app was only added to the user's account is refused.
 */
import sharp from 'sharp';
import { PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { useHarness } from './helpers.js';
import type { OptionValue, TestUser } from '../support/discord-server.js';

describe('/schedule notify where:channel', () => {
  const h = useHarness({ env: { SCHEDULE_MIN_INTERVAL_MS: '0' } });

  async function schedule(user: TestUser, subcommand: string, options: Record<string, OptionValue>, guildId?: string | null) {
    const interaction = await h.discord.slash(user, { name: 'schedule', subcommand, options }, guildId === undefined ? {} : { guildId });
    return (await interaction.waitForReply(undefined, 15_000)).content;
  }

  async function member(name: string): Promise<TestUser> {
    const user = h.discord.addMember({ username: name });
    await h.linkUser(user);
    for (const [image, colour] of [['red', '#cc0000'], ['blue', '#0000cc'], ['green', '#00cc00']] as const) {
      const data = await sharp({ create: { width: 64, height: 64, channels: 3, background: colour } }).jpeg().toBuffer();
      await h.services.library.add(user.id, image, { data, format: 'jpeg' });
    }
    return user;
  }

  it('refuses a channel the member cannot write in, and keeps the setting', async () => {
    const user = await member('muted');
    const channel = h.discord.addChannel({ name: 'read-only' });
    h.discord.setChannelOverwrites(channel.id, [{ id: h.discord.guild.id, type: 0, deny: PermissionFlagsBits.SendMessages }]);
    expect(await schedule(user, 'notify', { where: 'channel', channel: { channel: channel.id } })).toBe(
      `You can't send messages in <#${channel.id}>, so I won't post your avatar changes there. Pick a channel you can write in, or use DMs.`,
    );
    expect((await h.services.schedules.get(user.id)).notify).toEqual({ mode: 'dm' });
  });

  it('refuses a channel where the bot cannot post the notice, naming what it lacks', async () => {
    const user = await member('picky');
    const channel = h.discord.addChannel({ name: 'no-files' });
    h.discord.setChannelOverwrites(channel.id, [{ id: h.discord.botUser.id, type: 1, deny: PermissionFlagsBits.AttachFiles | PermissionFlagsBits.EmbedLinks }]);
    expect(await schedule(user, 'notify', { where: 'channel', channel: { channel: channel.id } })).toBe(
      `I can't post in <#${channel.id}>: I need Embed Links and Attach Files there. Ask a server admin, pick another channel, or use DMs.`,
    );
    expect((await h.services.schedules.get(user.id)).notify).toEqual({ mode: 'dm' });
  });

  it('refuses a server where the app was added to the user account only, and says why', async () => {
    const user = await member('traveller');
    const elsewhere = h.discord.addGuild({ name: 'Elsewhere', withBot: false });
    h.discord.addMember({ id: user.id, guildId: elsewhere.id });
    const interaction = await h.discord.slash(
      user,
      { name: 'schedule', subcommand: 'notify', options: { where: 'channel', channel: { channel: elsewhere.channelId } } },
      { guildId: elsewhere.id, userInstall: true },
    );
    expect((await interaction.waitForReply()).content).toBe("I can't post in that server: I was added to your account, not to the server. Use DMs instead: /schedule notify where:dm.");
    expect((await h.services.schedules.get(user.id)).notify).toEqual({ mode: 'dm' });
  });

  it('posts in the channel while the member may write there; after they lose that, or leave, the notice comes by DM saying why', async () => {
    const user = await member('announcer');
    const channel = h.discord.addChannel({ name: 'avatars' });
    expect(await schedule(user, 'notify', { where: 'channel', channel: { channel: channel.id } })).toBe(`Scheduled changes will be announced in <#${channel.id}>.`);

    await schedule(user, 'default', { image: 'red' });
    const posted = await h.discord.waitForMessage((message) => message.channelId === channel.id && message.message.embeds[0]?.title === 'Scheduled avatar: red', 10_000);
    expect(posted.message.content).toBe(`<@${user.id}>`);

    h.discord.setChannelOverwrites(channel.id, [{ id: user.id, type: 1, deny: PermissionFlagsBits.SendMessages }]);
    await schedule(user, 'default', { image: 'blue' });
    const dm = await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: blue', 10_000);
    expect(dm.message.content).toBe(`I could not post this in <#${channel.id}> (you can no longer send messages there), so it comes by DM. /schedule notify changes where these go.`);

    h.discord.removeMember(user.id);
    await schedule(user, 'default', { image: 'green' }, null); // in the bot's DMs: no longer in the server
    const left = await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: green', 10_000);
    expect(left.message.content).toContain('(you are no longer in that server)');

    expect(h.discord.messages.filter((message) => message.channelId === channel.id).map((message) => message.message.embeds[0]?.title)).toEqual(['Scheduled avatar: red']);
    expect((await h.services.schedules.get(user.id)).notify).toEqual({ mode: 'channel', channelId: channel.id });
  });
});
