import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  ComponentType,
  DiscordAPIError,
  Events,
  FileUploadBuilder,
  GatewayIntentBits,
  LabelBuilder,
  MessageFlags,
  ModalBuilder,
  PermissionFlagsBits,
  StringSelectMenuBuilder,
  TextInputBuilder,
  TextInputStyle,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { componentsOf, startDiscordServer, type DiscordServer, type TestUser } from './discord-server.js';

const commands: RESTPostAPIChatInputApplicationCommandsJSONBody[] = [
  {
    name: 'upload',
    description: 'Send an image',
    options: [{ name: 'image', description: 'The image', type: 11, required: true }],
  },
  { name: 'feedback', description: 'Opens a modal' },
  { name: 'dm', description: 'DMs you' },
  { name: 'pick', description: 'Shows a select menu' },
  { name: 'admin', description: 'Needs Manage Server' },
  { name: 'who', description: 'Says which bot process answered' },
  { name: 'quick', description: 'Replies with withResponse' },
  { name: 'slow', description: 'Acks too late' },
  {
    name: 'color',
    description: 'Autocompleted',
    options: [{ name: 'name', description: 'A color', type: 3, required: true, autocomplete: true }],
  },
];

/** A tiny bot, written the way the real one talks to discord.js. */
function attachBot(client: Client, label: string, errors: unknown[]): void {
  client.on(Events.InteractionCreate, async (interaction) => {
    try {
      if (interaction.isAutocomplete()) {
        const typed = interaction.options.getFocused().toLowerCase();
        const choices = ['red', 'green', 'blue'].filter((color) => color.startsWith(typed));
        await interaction.respond(choices.map((color) => ({ name: color, value: color })));
        return;
      }
      if (interaction.isModalSubmit() && interaction.customId === 'feedback-modal') {
        await interaction.reply({ content: `thanks: ${interaction.fields.getTextInputValue('feedback-text')}` });
        return;
      }
      if (interaction.isStringSelectMenu() && interaction.customId === 'fruit') {
        await interaction.update({ content: `picked ${interaction.values.join(',')}`, components: [] });
        return;
      }
      if (!interaction.isChatInputCommand()) return;
      await runCommand(interaction, label);
    } catch (error) {
      errors.push(error);
    }
  });
}

async function runCommand(interaction: ChatInputCommandInteraction, label: string): Promise<void> {
  switch (interaction.commandName) {
    case 'upload': {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      const attachment = interaction.options.getAttachment('image', true);
      const downloaded = Buffer.from(await (await fetch(attachment.url)).arrayBuffer());
      const reversed = Buffer.from(downloaded).reverse();
      const button = new ButtonBuilder().setCustomId('confirm').setLabel('Confirm').setStyle(ButtonStyle.Primary);
      const reply = await interaction.editReply({
        content: `got ${downloaded.length} bytes, cached guild: ${String(interaction.inCachedGuild())}`,
        files: [new AttachmentBuilder(reversed, { name: 'reversed.bin' })],
        components: [new ActionRowBuilder<ButtonBuilder>().addComponents(button)],
      });
      const click = await reply.awaitMessageComponent({
        componentType: ComponentType.Button,
        filter: (candidate) => candidate.user.id === interaction.user.id,
        time: 5000,
      });
      await click.update({ content: 'confirmed', components: [] });
      await interaction.followUp({ content: `clicked by ${click.user.id}`, flags: MessageFlags.Ephemeral });
      return;
    }
    case 'feedback': {
      const input = new TextInputBuilder().setCustomId('feedback-text').setLabel('Your feedback').setStyle(TextInputStyle.Short);
      await interaction.showModal(
        new ModalBuilder()
          .setCustomId('feedback-modal')
          .setTitle('Feedback')
          .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input)),
      );
      return;
    }
    case 'dm': {
      await interaction.user.send({ content: 'hello from the bot' });
      await interaction.reply({ content: 'check your DMs', flags: MessageFlags.Ephemeral });
      return;
    }
    case 'pick': {
      const menu = new StringSelectMenuBuilder()
        .setCustomId('fruit')
        .addOptions({ label: 'Apple', value: 'apple' }, { label: 'Banana', value: 'banana' });
      await interaction.reply({
        content: 'pick a fruit',
        components: [new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(menu)],
      });
      return;
    }
    case 'admin': {
      const allowed = interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false;
      await interaction.reply({ content: allowed ? 'allowed' : 'denied', flags: MessageFlags.Ephemeral });
      return;
    }
    case 'who': {
      await interaction.reply({ content: `answered by ${label}` });
      return;
    }
    case 'quick': {
      const response = await interaction.reply({ content: 'pong', withResponse: true });
      await interaction.followUp({ content: `original is ${response.resource?.message?.id ?? 'missing'}` });
      return;
    }
    case 'slow': {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await interaction.reply({ content: 'too late' });
      return;
    }
    default:
      await interaction.reply({ content: `unknown command ${interaction.commandName}` });
  }
}

function newClient(server: DiscordServer): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { api: server.apiUrl, version: '10', retries: 0, timeout: 5000 },
  });
}

async function login(client: Client, server: DiscordServer): Promise<number> {
  const started = performance.now();
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(server.botToken);
  await ready;
  return performance.now() - started;
}

// First, so the count of open sockets starts from a clean process.
describe('shutting down', () => {
  it('leaves no sockets behind after client.destroy() and server.close()', async () => {
    const openHandles = (): number =>
      process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap' || resource === 'TCPServerWrap').length;
    const before = openHandles();
    const server = await startDiscordServer({ heartbeatIntervalMs: 100 });
    const client = newClient(server);
    await login(client, server);
    expect(openHandles()).toBeGreaterThan(before);
    // discord.js measures the ping when the server acknowledges a heartbeat.
    await server.waitFor(() => client.ws.ping >= 0, 2000, 'a heartbeat ACK');
    await client.destroy();
    await server.close();
    await expect(fetch(`${server.apiUrl}/v10/gateway`)).rejects.toThrow();
    const deadline = Date.now() + 2000;
    while (openHandles() > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(openHandles()).toBe(before);
  });

  it('stops a client that was not destroyed instead of letting it reconnect forever', async () => {
    const server = await startDiscordServer();
    const client = newClient(server);
    client.on(Events.ShardError, () => undefined);
    const disconnected = new Promise<void>((resolve) => client.once(Events.ShardDisconnect, () => resolve()));
    await login(client, server);
    await server.close();
    await disconnected;
    expect(server.sessions[0]?.connected).toBe(false);
    await client.destroy();
  });
});

describe('the Discord-compatible test server with a real discord.js client', () => {
  let server: DiscordServer;
  let client: Client;
  let readyMs: number;
  let member: TestUser;
  const botErrors: unknown[] = [];

  beforeAll(async () => {
    server = await startDiscordServer();
    member = server.addMember({ username: 'alice' });
    client = newClient(server);
    attachBot(client, 'first', botErrors);
    readyMs = await login(client, server);
    await client.application?.commands.set(commands);
  });

  afterAll(async () => {
    await client?.destroy();
    await server?.close();
  });

  it('gets the client ready quickly with the guild cached and the commands registered', async () => {
    await server.waitForBot();
    expect(readyMs).toBeLessThan(5000);
    const guild = client.guilds.cache.get(server.guild.id);
    expect(guild?.available).toBe(true);
    expect(guild?.channels.cache.has(server.guild.channelId)).toBe(true);
    expect(guild?.members.me?.id).toBe(server.botUser.id);
    expect(server.commands.map((command) => command.name).sort()).toEqual(commands.map((command) => command.name).sort());
    const put = server.calls.find((call) => call.route === 'PUT /applications/:app/commands');
    expect(put?.headers.authorization).toBe(`Bot ${server.botToken}`);
    expect(server.unexpectedCalls).toEqual([]);
  });

  it('runs a deferred ephemeral reply with a downloaded attachment, a file, a button click and a follow-up', async () => {
    // Bytes that would break a text-based multipart parser: CR/LF, NULs, a fake boundary.
    const image = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]),
      Buffer.from('\r\n------formdata-undici-0123456789\r\nContent-Disposition: form-data\r\n\r\n'),
      Buffer.from(Array.from({ length: 4096 }, (_, index) => index % 256)),
    ]);
    const interaction = await server.slash(member, {
      name: 'upload',
      options: { image: { attachment: { filename: 'me.png', bytes: image } } },
    });

    const ack = await interaction.waitForAck();
    expect(ack.type).toBe(5);
    expect(await interaction.firstResponseMs()).toBeLessThan(3000);
    expect(interaction.ephemeral).toBe(true);

    const reply = await interaction.waitForReply();
    expect(reply.content).toBe(`got ${image.length} bytes, cached guild: true`);
    expect(interaction.files).toHaveLength(1);
    expect(interaction.files[0]?.name).toBe('reversed.bin');
    expect(interaction.files[0]?.bytes.equals(Buffer.from(image).reverse())).toBe(true);
    expect(server.downloads.some((download) => download.completed && download.bytesSent === image.length)).toBe(true);

    const click = await interaction.click('confirm');
    expect((await click.waitForAck()).type).toBe(7);
    const followUp = await interaction.waitForFollowUp();
    expect(followUp.content).toBe(`clicked by ${member.id}`);
    expect((followUp.flags ?? 0) & MessageFlags.Ephemeral).toBe(MessageFlags.Ephemeral);
    expect(interaction.original?.content).toBe('confirmed');
    expect(componentsOf(interaction.original!)).toEqual([]);
    expect(botErrors).toEqual([]);
  });

  it('round-trips a modal: the bot shows it, the user submits it, the bot reads the field', async () => {
    const interaction = await server.slash(member, { name: 'feedback' });
    const modal = await interaction.waitForModal();
    expect(modal.custom_id).toBe('feedback-modal');
    const submit = await interaction.submitModal('feedback-modal', { 'feedback-text': 'great bot' });
    const reply = await submit.waitForReply();
    expect(reply.content).toBe('thanks: great bot');
    expect(submit.type).toBe(5);
    expect(botErrors).toEqual([]);
  });

  it('records a DM the bot sends', async () => {
    const interaction = await server.slash(member, { name: 'dm' });
    const dm = await server.waitForDm(member.id);
    expect(dm.message.content).toBe('hello from the bot');
    expect(dm.guildId).toBeNull();
    expect((await interaction.waitForReply()).content).toBe('check your DMs');
    expect(server.calls.some((call) => call.route === 'POST /users/@me/channels')).toBe(true);
  });

  it('refuses a DM to a user who closed them, as Discord does (50007)', async () => {
    const shy = server.addMember({ username: 'shy' });
    server.setDmsClosed(shy.id);
    await server.slash(shy, { name: 'dm' });
    const failed = await server.waitForCall((call) => call.route === 'POST /channels/:channel/messages' && call.status === 403);
    expect(failed.response).toMatchObject({ code: 50007 });
    await server.waitFor(() => botErrors.length > 0);
    const error = botErrors.pop();
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).code).toBe(50007);
  });

  it('delivers a string select and sees the update', async () => {
    const interaction = await server.slash(member, { name: 'pick' });
    await interaction.waitForReply();
    const selection = await interaction.select('fruit', ['banana']);
    expect((await selection.waitForAck()).type).toBe(7);
    expect((await interaction.waitForReply((message) => message.content.startsWith('picked'))).content).toBe('picked banana');
    await expect(interaction.select('fruit', ['cherry'], { timeoutMs: 200 })).rejects.toThrow(/No enabled select menu/);
  });

  it('sends the computed member permissions: default members lack MANAGE_GUILD, a manager has it', async () => {
    const manager = server.addMember({ username: 'manager', permissions: PermissionFlagsBits.ManageGuild });
    const denied = await server.slash(member, { name: 'admin' });
    const allowed = await server.slash(manager, { name: 'admin' });
    expect((await denied.waitForReply()).content).toBe('denied');
    expect((await allowed.waitForReply()).content).toBe('allowed');
    const permissions = BigInt(String((allowed.payload.member as { permissions: string }).permissions));
    expect(permissions & PermissionFlagsBits.ManageGuild).toBe(PermissionFlagsBits.ManageGuild);
    expect(permissions & PermissionFlagsBits.Administrator).toBe(0n);
  });

  it('answers autocomplete with the choices the bot computed', async () => {
    const choices = await server.autocomplete(member, { name: 'color', options: { name: 'gr' } }, 'name');
    expect(choices).toEqual([{ name: 'green', value: 'green' }]);
  });

  it('returns the documented callback object for reply({ withResponse: true })', async () => {
    const interaction = await server.slash(member, { name: 'quick' });
    const followUp = await interaction.waitForFollowUp();
    expect(interaction.original?.content).toBe('pong');
    expect(followUp.content).toBe(`original is ${interaction.original?.id}`);
    expect(interaction.callbacks[0]?.withResponse).toBe(true);
  });

  it('rejects an acknowledgement after the interaction window with 10062, like Discord', async () => {
    const interaction = await server.slash(member, { name: 'slow' }, { ackTimeoutMs: 200 });
    await server.waitFor(() => interaction.callbacks.length > 0);
    expect(interaction.callbacks[0]?.status).toBe(404);
    expect(interaction.acknowledged).toBe(false);
    await server.waitFor(() => botErrors.length > 0);
    expect((botErrors.pop() as DiscordAPIError).code).toBe(10062);
  });

  it('checks the bot token, leaves interaction routes open, and records unknown routes', async () => {
    const anonymous = await fetch(`${server.apiUrl}/v10/users/@me`);
    expect(anonymous.status).toBe(401);
    const unknown = await fetch(`${server.apiUrl}/v10/no/such/route`, { headers: { authorization: `Bot ${server.botToken}` } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: '404: Not Found', code: 0 });
    expect(server.unexpectedCalls.map((call) => call.path)).toEqual(['/api/v10/no/such/route']);
    const bogusCallback = await fetch(`${server.apiUrl}/v10/interactions/1/nope/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"type":4,',
    });
    expect(bogusCallback.status).toBe(400);
  });

  it('survives garbage on the gateway and the API', async () => {
    const socket = new WebSocket(server.gatewayUrl);
    const closeCode = await new Promise<number>((resolve) => {
      socket.on('message', () => socket.send('not json'));
      socket.on('close', (code) => resolve(code));
    });
    expect(closeCode).toBe(4002);
    const broken = await fetch(`${server.apiUrl}/v10/channels/${server.guild.channelId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${server.botToken}`, 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nno headers end',
    });
    expect(broken.status).toBe(400);
    const wrongShape = await fetch(`${server.apiUrl}/v10/users/@me/channels`, {
      method: 'POST',
      headers: { authorization: `Bot ${server.botToken}`, 'content-type': 'application/json' },
      body: '[1,2,3]',
    });
    expect(wrongShape.status).toBe(400);
    expect((await fetch(`${server.apiUrl}/v10/gateway`)).status).toBe(200);
  });

  it('serves the guild, channel, member and role lookups discord.js makes, and validates command bodies', async () => {
    const callsBefore = server.calls.length;
    const guild = client.guilds.cache.get(server.guild.id);
    if (!guild) throw new Error('guild not cached');
    const fetchedMember = await guild.members.fetch({ user: member.id, force: true });
    expect(fetchedMember.user.username).toBe('alice');
    const listed = await guild.members.list({ limit: 100 });
    expect(listed.has(member.id)).toBe(true);
    const viaGateway = await guild.members.fetch();
    expect(viaGateway.has(member.id)).toBe(true);
    const roles = await guild.roles.fetch();
    expect(roles.get(guild.id)?.name).toBe('@everyone');
    const channel = await client.channels.fetch(server.guild.channelId, { force: true });
    expect(channel?.isTextBased()).toBe(true);
    await expect(guild.members.fetch({ user: '1', force: true })).rejects.toMatchObject({ code: 10007 });
    await expect(
      client.application?.commands.create({
        name: 'broken',
        description: 'required after optional',
        options: [
          { name: 'a', description: 'optional', type: 3 },
          { name: 'b', description: 'required', type: 3, required: true },
        ],
      }),
    ).rejects.toMatchObject({ code: 50035 });
    expect(server.calls.slice(callsBefore).filter((call) => call.unexpected)).toEqual([]);
  });

  it('hosts files: plain, redirecting, slow and chunked, and records downloads and hang-ups', async () => {
    const bytes = Buffer.alloc(64 * 1024, 7);
    const plain = await fetch(server.serveFile('a.png', bytes));
    expect(plain.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await plain.arrayBuffer()).equals(bytes)).toBe(true);

    const redirect = await fetch(server.serveRedirect('http://example.invalid/x.png'), { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('http://example.invalid/x.png');

    const slowUrl = server.serveFile('big.bin', bytes, { chunkSize: 1024, intervalMs: 5, contentLength: false });
    const controller = new AbortController();
    const slow = await fetch(slowUrl, { signal: controller.signal });
    expect(slow.headers.get('content-length')).toBeNull();
    const reader = slow.body!.getReader();
    await reader.read();
    controller.abort();
    const download = await server.waitFor(() => server.downloads.find((entry) => slowUrl.endsWith(entry.path) && entry.aborted));
    expect(download.bytesSent).toBeLessThan(bytes.length);
  });

  it('round-robins interactions over two connected bot processes and survives a resume', async () => {
    const second = newClient(server);
    attachBot(second, 'second', botErrors);
    try {
      await login(second, server);
      await server.waitForBot({ sessions: 2 });
      const answers = new Set<string>();
      for (let round = 0; round < 2; round += 1) {
        const interaction = await server.slash(member, { name: 'who' });
        answers.add((await interaction.waitForReply()).content);
      }
      expect(answers).toEqual(new Set(['answered by first', 'answered by second']));

      server.dropGatewayConnections(4000);
      await server.waitFor(
        () => server.sessions.filter((session) => session.connected && session.resumes > 0).length === 2,
        10_000,
        'both sessions to resume',
      );
      const afterResume = await server.slash(member, { name: 'who' });
      expect((await afterResume.waitForReply()).content).toMatch(/^answered by (first|second)$/);
    } finally {
      await second.destroy();
    }
  });
});

describe('typed options, components in DMs and modal uploads', () => {
  it('resolves user, number and channel options of a guild subcommand, a DM button and a file-upload modal', async () => {
    const server = await startDiscordServer();
    const client = newClient(server);
    const errors: unknown[] = [];
    try {
      const alice = server.addMember({ username: 'alice' });
      const bob = server.addMember({ username: 'bob' });
      client.on(Events.InteractionCreate, async (interaction) => {
        try {
          if (interaction.isChatInputCommand() && interaction.commandName === 'config') {
            const who = interaction.options.getUser('who', true);
            const isMember = interaction.options.getMember('who') !== null;
            const ratio = interaction.options.getNumber('ratio', true);
            const where = interaction.options.getChannel('where', true);
            await interaction.reply({
              content: `${interaction.options.getSubcommand()} ${who.username} ${String(isMember)} ${ratio} ${where.id}`,
            });
            const button = new ButtonBuilder().setCustomId('dm-button').setLabel('Open').setStyle(ButtonStyle.Primary);
            await interaction.user.send({
              content: 'a DM with a button',
              components: [new ActionRowBuilder<ButtonBuilder>().addComponents(button)],
            });
          } else if (interaction.isButton() && interaction.customId === 'dm-button') {
            await interaction.deferUpdate();
            await interaction.editReply({ content: `clicked in a DM: ${String(interaction.guildId === null)}` });
          } else if (interaction.isChatInputCommand() && interaction.commandName === 'upload-form') {
            await interaction.showModal(
              new ModalBuilder()
                .setCustomId('upload-form')
                .setTitle('Upload')
                .addLabelComponents(
                  new LabelBuilder()
                    .setLabel('Name')
                    .setTextInputComponent(new TextInputBuilder().setCustomId('name').setStyle(TextInputStyle.Short)),
                  new LabelBuilder().setLabel('Picture').setFileUploadComponent(new FileUploadBuilder().setCustomId('picture')),
                ),
            );
          } else if (interaction.isModalSubmit()) {
            const picture = interaction.fields.getUploadedFiles('picture', true).first();
            const bytes = Buffer.from(await (await fetch(picture?.url ?? '')).arrayBuffer());
            await interaction.reply({
              content: `${interaction.fields.getTextInputValue('name')} ${picture?.name} ${bytes.length}`,
              flags: MessageFlags.Ephemeral,
            });
          }
        } catch (error) {
          errors.push(error);
        }
      });
      await login(client, server);
      await client.application?.commands.set(
        [
          {
            name: 'config',
            description: 'Settings',
            options: [
              {
                type: 1,
                name: 'set',
                description: 'Set one',
                options: [
                  { type: 6, name: 'who', description: 'A user', required: true },
                  { type: 10, name: 'ratio', description: 'A number', required: true },
                  { type: 7, name: 'where', description: 'A channel', required: true },
                ],
              },
            ],
          },
          { name: 'upload-form', description: 'A modal with a file upload' },
        ],
        server.guild.id,
      );

      const config = await server.slash(alice, {
        name: 'config',
        subcommand: 'set',
        options: { who: { user: bob }, ratio: 2, where: { channel: server.guild.channelId } },
      });
      // 2 is sent as a NUMBER because the registered option says so (getNumber would throw on an INTEGER).
      expect((await config.waitForReply()).content).toBe(`set bob true 2 ${server.guild.channelId}`);
      await expect(server.slash(alice, { name: 'config', subcommand: 'set', options: { who: { user: bob } } })).rejects.toThrow(
        /requires option/,
      );

      const dm = await server.waitForDm(alice.id);
      const click = await server.click(dm.message, 'dm-button');
      expect((await click.waitForReply()).content).toBe('clicked in a DM: true');
      expect(server.message(dm.message.id)?.content).toBe('clicked in a DM: true');

      const form = await server.slash(alice, { name: 'upload-form' });
      const submitted = await form.submitModal({
        name: 'me',
        picture: { attachments: [{ filename: 'me.png', bytes: Buffer.alloc(10, 1) }] },
      });
      expect((await submitted.waitForReply()).content).toBe('me me.png 10');
      expect(submitted.ephemeral).toBe(true);
      expect(errors).toEqual([]);
      expect(server.unexpectedCalls).toEqual([]);
    } finally {
      await client.destroy();
      await server.close();
    }
  });
});
