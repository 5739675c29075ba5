/**
 * The app installed to a user's account (Discord's user install) and used where the bot has no guild:
 * the bot's DM, and a server the bot was never added to. What Discord offers where follows from the
 * registered `integration_types` and `contexts`; the test server refuses what Discord would not show.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationIntegrationType, ChannelType, InteractionContextType, PermissionFlagsBits } from 'discord.js';
import { registerCommands } from '../../src/bot/register.js';
import { commands } from '../../commands/index.js';
import { t } from '../../src/i18n/t.js';
import type { TestUser } from '../support/discord-server.js';
import type { Harness } from '../support/bot-harness.js';
import { customIdOf, EPHEMERAL, fixture, image, requestTokenOf, SLOW_MS, useHarness } from './helpers.js';

const EVERYWHERE = {
  integration_types: [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall],
  contexts: [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel],
};
const SERVER_ONLY = { integration_types: [ApplicationIntegrationType.GuildInstall], contexts: [InteractionContextType.Guild] };

const inDm = { guildId: null, userInstall: true } as const;

/** A server the bot is not in, with `user` in it: only the user's install reaches it. */
function userInstallGuild(h: Harness, user: TestUser): { guildId: string; userInstall: true } {
  const guild = h.discord.addGuild({ name: `${user.username}'s friends`, withBot: false });
  h.discord.addMember({ id: user.id, guildId: guild.id });
  return { guildId: guild.id, userInstall: true };
}

describe('user install: DMs and servers without the bot', () => {
  const h = useHarness();

  it('registers /avatar, /banner, /profile, /twitter, /library and /schedule for both installs in every context, /branding* for servers only', () => {
    const registered = Object.fromEntries(h.discord.commands.map((command) => [command.name, { integration_types: command.integration_types, contexts: command.contexts }]));
    expect(registered).toEqual({
      avatar: EVERYWHERE,
      banner: EVERYWHERE,
      profile: EVERYWHERE,
      twitter: EVERYWHERE,
      library: EVERYWHERE,
      schedule: EVERYWHERE,
      branding: SERVER_ONLY,
      'branding-consent': SERVER_ONLY,
    });
  });

  it('refuses a registration with an unknown context or integration type, as Discord does, and keeps the commands', async () => {
    const options = { apiUrl: h.config.discordApiUrl, token: h.config.discordToken!, applicationId: h.config.discordApplicationId! };
    const broken = (extra: Record<string, unknown>) => [{ ...commands[0]!, definition: { ...commands[0]!.definition, ...extra } }];
    await expect(registerCommands({ ...options, commands: broken({ contexts: [3] }) })).rejects.toMatchObject({ code: 50035 });
    await expect(registerCommands({ ...options, commands: broken({ integration_types: [2] }) })).rejects.toMatchObject({ code: 50035 });
    expect(h.discord.commands.map((command) => command.name).sort()).toEqual(commands.map((command) => command.definition.name).sort());
  });

  it('/avatar set with an attachment from the bot DM completes and replies with the URL', async () => {
    const user = h.discord.addUser({ username: 'dm-dora' }); // in no server with the bot: only the user install
    const xUser = await h.linkUser(user, 'dora_x');
    const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('me.jpg', fixture('Landscape_5.jpg')) } }, inDm);
    expect(interaction.payload).toMatchObject({ context: InteractionContextType.BotDM, authorizing_integration_owners: { '1': user.id }, user: { id: user.id } });
    expect(interaction.payload.guild_id).toBeUndefined();
    expect(interaction.payload.member).toBeUndefined();

    const reply = await interaction.waitForReply(undefined, SLOW_MS);
    const url400 = h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400');
    expect(interaction.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(reply.embeds[0]).toMatchObject({ title: 'Avatar updated', url: url400 });
    expect(reply.embeds[0]?.description).toContain(url400);
    expect(h.x.uploads.at(-1)).toMatchObject({ userId: xUser.id, width: 400, height: 400 });
  });

  it('/avatar set with an attachment from a server where only the user installed the app completes and replies with the URL', async () => {
    const user = h.discord.addUser({ username: 'guest-gil' });
    const xUser = await h.linkUser(user, 'gil_x');
    const where = userInstallGuild(h, user);
    const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('me.png', fixture('flowers.jpeg')) } }, where);
    expect(interaction.payload).toMatchObject({
      guild_id: where.guildId,
      context: InteractionContextType.Guild,
      authorizing_integration_owners: { '1': user.id },
      member: { user: { id: user.id } },
      app_permissions: '0',
    });

    const reply = await interaction.waitForReply(undefined, SLOW_MS);
    const url400 = h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400');
    expect(reply.embeds[0]).toMatchObject({ title: 'Avatar updated', url: url400 });
    expect(interaction.ephemeral).toBe(true);
  });

  it('from the bot DM: /twitter link by PIN (button, modal), /avatar preview then Apply, /avatar history, /twitter status', async () => {
    const user = h.discord.addUser({ username: 'dm-pia' });
    const xUser = h.x.addUser({ screenName: 'pia_x' });

    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' }, inDm);
    const prompt = await link.waitForReply();
    const { verifier } = h.x.approve(requestTokenOf(prompt), xUser.id);
    const click = await link.click(customIdOf(prompt, 'twitter:pin:'));
    const submitted = await click.submitModal({ pin: verifier });
    expect((await submitted.waitForReply()).content).toBe('Linked @pia_x. Use /avatar set to change your X avatar.');

    const preview = await h.discord.slash(user, { name: 'avatar', subcommand: 'preview', options: { image: image('flowers.jpeg', fixture('flowers.jpeg')) } }, inDm);
    const shown = await preview.waitForReply(undefined, SLOW_MS);
    expect(preview.files.map((file) => file.name)).toEqual(['preview.jpg', 'preview-circle.png']);
    const apply = await preview.click(customIdOf(shown, 'avatar:apply:'));
    const applied = await preview.waitForReply((message) => message.embeds[0]?.title === 'Avatar updated', SLOW_MS);
    expect(apply.callbacks[0]?.type).toBe(7);
    expect(applied.embeds[0]?.url).toBe(h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400'));
    expect(h.x.uploads.at(-1)!.bytes.equals(preview.files[0]!.bytes)).toBe(true);

    const history = await h.discord.slash(user, { name: 'avatar', subcommand: 'history' }, inDm);
    expect((await history.waitForReply(undefined, SLOW_MS)).embeds[0]?.title).toBe('Current');

    const status = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' }, inDm);
    expect(JSON.stringify(await status.waitForReply(undefined, SLOW_MS))).toContain('@pia_x');
  });

  it('from a server without the bot: /library add with an attachment, /library list and /schedule timezone', async () => {
    const user = h.discord.addUser({ username: 'guest-lou' });
    await h.linkUser(user, 'lou_x');
    const where = userInstallGuild(h, user);

    const add = await h.discord.slash(user, { name: 'library', subcommand: 'add', options: { name: 'winter', image: image('w.jpg', fixture('flowers.jpeg')) } }, where);
    expect((await add.waitForReply(undefined, SLOW_MS)).content).toBe('Saved "winter" in your library. Use it in /schedule season, rotate, event or default.');
    const list = await h.discord.slash(user, { name: 'library', subcommand: 'list' }, where);
    expect(JSON.stringify((await list.waitForReply(undefined, SLOW_MS)).embeds)).toContain('winter');

    const timezone = await h.discord.slash(user, { name: 'schedule', subcommand: 'timezone', options: { zone: 'Europe/Paris' } }, where);
    expect((await timezone.waitForReply(undefined, SLOW_MS)).content).toContain('Europe/Paris');
  });

  it.each([
    ['the bot DM', 'unlink-dm', () => inDm],
    ['a server without the bot', 'unlink-guest', (h: Harness, user: TestUser) => userInstallGuild(h, user)],
  ] as const)('/twitter unlink then the Unlink button, from %s, deletes the link (a collector on an uncached channel)', async (_, username, place) => {
    const user = h.discord.addUser({ username });
    await h.linkUser(user, `${username.replace('-', '_')}_x`);
    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' }, place(h, user));
    const question = await unlink.waitForReply();
    await unlink.click(customIdOf(question, 'twitter:unlink-confirm:'));
    const done = await unlink.waitForReply((message) => message.content.startsWith('Unlinked'), SLOW_MS);
    expect(done.content).toContain(`@${username.replace('-', '_')}_x`);
    expect(await h.records.vault.get(user.id)).toBeUndefined();
  });

  it('/avatar set with an attachment from a group DM (context 2, the bot not in it) completes and replies with the URL', async () => {
    const user = h.discord.addUser({ username: 'group-gus' });
    const friends = [h.discord.addUser({ username: 'group-fay' }), h.discord.addUser({ username: 'group-flo' })];
    const group = h.discord.addPrivateChannel({ recipients: [user, ...friends], type: ChannelType.GroupDM, name: 'weekend' });
    const xUser = await h.linkUser(user, 'gus_x');
    const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('me.jpg', fixture('Landscape_5.jpg')) } }, { channelId: group.id });
    // As Discord sends it: context 2, the group DM as the channel, the user (no guild, no member), owned by the user's install.
    expect(interaction.payload).toMatchObject({
      context: InteractionContextType.PrivateChannel,
      channel: { id: group.id, type: ChannelType.GroupDM, name: 'weekend', owner_id: user.id },
      authorizing_integration_owners: { '1': user.id },
      user: { id: user.id },
      app_permissions: String(PermissionFlagsBits.AttachFiles | PermissionFlagsBits.EmbedLinks | PermissionFlagsBits.MentionEveryone),
    });
    expect(interaction.payload.guild_id).toBeUndefined();
    expect(interaction.payload.member).toBeUndefined();

    const reply = await interaction.waitForReply(undefined, SLOW_MS);
    const url400 = h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400');
    expect(interaction.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(reply.embeds[0]).toMatchObject({ title: 'Avatar updated', url: url400 });
    expect(h.x.uploads.at(-1)).toMatchObject({ userId: xUser.id, width: 400, height: 400 });
    expect(h.discord.messages.filter((posted) => posted.channelId === group.id)).toEqual([]); // nothing posted in the group itself
  });

  it('/twitter status from a group DM, and from a DM between two users, answers in the interaction', async () => {
    const user = h.discord.addUser({ username: 'group-sal' });
    const friend = h.discord.addUser({ username: 'group-sid' });
    await h.linkUser(user, 'sal_x');
    const group = h.discord.addPrivateChannel({ recipients: [user, friend, h.discord.addUser({ username: 'group-syd' })] });
    const dm = h.discord.addPrivateChannel({ recipients: [user, friend] });
    for (const channel of [group, dm]) {
      const status = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' }, { channelId: channel.id });
      expect(status.payload).toMatchObject({ context: InteractionContextType.PrivateChannel, channel: { id: channel.id, type: channel.type } });
      const reply = await status.waitForReply(undefined, SLOW_MS);
      expect(JSON.stringify(reply)).toContain('@sal_x');
      expect(status.ephemeral).toBe(true);
    }
  });

  it('/twitter unlink then the Unlink button, from a group DM, deletes the link (the click reaches the bot from a channel it is not in)', async () => {
    const user = h.discord.addUser({ username: 'group-uma' });
    await h.linkUser(user, 'uma_x');
    const group = h.discord.addPrivateChannel({ recipients: [user, h.discord.addUser({ username: 'group-ulf' }), h.discord.addUser({ username: 'group-uli' })] });
    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' }, { channelId: group.id });
    const question = await unlink.waitForReply();
    await unlink.click(customIdOf(question, 'twitter:unlink-confirm:'));
    const done = await unlink.waitForReply((message) => message.content.startsWith('Unlinked'), SLOW_MS);
    expect(done.content).toContain('@uma_x');
    expect(await h.records.vault.get(user.id)).toBeUndefined();
  });

  it('/schedule notify where:channel from a group DM, where Discord offers no server channel, says to run it in the server or use DMs', async () => {
    const user = h.discord.addUser({ username: 'group-nea' });
    await h.linkUser(user, 'nea_x');
    const group = h.discord.addPrivateChannel({ recipients: [user, h.discord.addUser({ username: 'group-ned' }), h.discord.addUser({ username: 'group-nia' })] });
    const notify = await h.discord.slash(user, { name: 'schedule', subcommand: 'notify', options: { where: 'channel' } }, { channelId: group.id });
    expect((await notify.waitForReply(undefined, SLOW_MS)).content).toBe(t('en-US', 'bot.error.channel-missing.outside-server'));
    expect(notify.ephemeral).toBe(true);
    expect((await h.services.schedules.get(user.id)).notify).toEqual({ mode: 'dm' }); // the default, unchanged
  });

  it('the test server, like Discord, offers commands in other DMs only to a user install, and refuses the bot posting in a channel it is not in', async () => {
    const user = h.discord.addUser({ username: 'group-ida' });
    const group = h.discord.addPrivateChannel({ recipients: [user, h.discord.addUser({ username: 'group-ivo' }), h.discord.addUser({ username: 'group-ina' })] });
    await expect(h.discord.slash(user, { name: 'twitter', subcommand: 'status' }, { channelId: group.id, userInstall: false })).rejects.toThrow(/only through a user install/);
    await expect(h.discord.slash(user, { name: 'branding-consent', subcommand: 'join' }, { channelId: group.id })).rejects.toThrow(/does not offer \/branding-consent/);
    await expect(h.bot.client.channels.fetch(group.id)).rejects.toMatchObject({ code: 50001 });
  });

  it('the test server, like Discord, does not offer /branding in a DM, nor to a user install, nor a guild install where the bot is not', async () => {
    const user = h.discord.addMember({ username: 'dm-ida' });
    await expect(h.discord.slash(user, { name: 'branding-consent', subcommand: 'join' }, { guildId: null })).rejects.toThrow(/does not offer \/branding-consent in BotDM/);
    await expect(h.discord.slash(user, { name: 'branding-consent', subcommand: 'join' }, { userInstall: true })).rejects.toThrow(/does not offer \/branding-consent to a user install/);
    const elsewhere = userInstallGuild(h, user);
    await expect(h.discord.slash(user, { name: 'avatar', subcommand: 'history' }, { guildId: elsewhere.guildId })).rejects.toThrow(/bot is not in guild/);
  });
});
