/**
 * Every reply fits Discord's limits, whatever the input: through the real discord.js client against the
 * Discord-compatible server, which refuses an over-limit message with Discord's 50035 as Discord does.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ApplicationCommandOptionType } from 'discord.js';
import { commands } from '../../commands/index.js';
import { useHarness } from '../bot/helpers.js';
import type { OptionValue, RecordedCall, TestUser } from '../support/discord-server.js';

const MANAGE_GUILD = 1n << 5n;

/** Calls the Discord server refused for breaking a limit (Invalid Form Body). */
const overLimit = (calls: readonly RecordedCall[]) => calls.filter((call) => (call.response as { code?: number } | undefined)?.code === 50035);

interface Definition {
  name: string;
  type: number;
  required?: boolean;
  autocomplete?: boolean;
  max_length?: number;
  choices?: Array<{ value: string | number }>;
  options?: Definition[];
}

/** A maximal string that also tries markdown and mentions. */
const longest = (max: number) => '*_`<@1>x'.repeat(Math.ceil(max / 8)).slice(0, max);

describe('replies within Discord limits', () => {
  const h = useHarness({ env: { SCHEDULE_MIN_INTERVAL_MS: '0' } });

  it('every string option of every command is bounded by max_length or choices', () => {
    const unbounded: string[] = [];
    const visit = (path: string, options: Definition[] = []) => {
      for (const option of options) {
        if (option.type === ApplicationCommandOptionType.Subcommand || option.type === ApplicationCommandOptionType.SubcommandGroup) visit(`${path} ${option.name}`, option.options);
        else if (option.type === ApplicationCommandOptionType.String && option.max_length === undefined && !option.choices?.length) unbounded.push(`${path} ${option.name}`);
      }
    };
    for (const command of commands) visit(`/${command.definition.name}`, command.definition.options as Definition[]);
    expect(unbounded).toEqual([]);
  });

  it('a rotation with the longest image list allowed is saved and said so, its list cut with "and N more"; /schedule list still works', async () => {
    const user = h.discord.addMember({ username: 'rotator' });
    await h.linkUser(user);
    const data = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#884422' } }).jpeg().toBuffer();
    const names = Array.from({ length: 50 }, (_, index) => `season-image-number-${String(index).padStart(2, '0')}-abcdefghi`);
    for (const name of names) await h.services.library.add(user.id, name, { data, format: 'jpeg' });
    // 50 images is the most a rotation takes (a 58-name list used to make a 2,300-character reply).
    const images = names.join(', ');
    expect(images.length).toBeGreaterThan(1600);

    const rotate = await h.discord.slash(user, { name: 'schedule', subcommand: 'rotate', options: { images, every: 'daily' } });
    const reply = (await rotate.waitForReply(undefined, 15_000)).content;
    expect(reply).toMatch(/^Added: rotation daily, sequence: season-image-number-00-abcdefghi, .* and \d+ more \(times in UTC\)\.\nNext change: /s);
    expect(reply.length).toBeLessThanOrEqual(2000);
    const stored = (await h.services.schedules.get(user.id)).schedules;
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ kind: 'rotation', images: images.split(', ') });

    const list = await h.discord.slash(user, { name: 'schedule', subcommand: 'list' });
    const listed = (await list.waitForReply()).content;
    expect(listed).toContain(`\`${stored[0]!.id}\` rotation daily, sequence: season-image-number-00-abcdefghi`);
    expect(listed).toMatch(/ and \d+ more/);
    expect(overLimit(h.discord.calls)).toEqual([]);
  });

  it('a 5,000-character time zone is refused with a short message that does not echo it', async () => {
    const user = h.discord.addMember({ username: 'zoner' });
    const zone = `Europe/${'B'.repeat(4993)}`;
    const interaction = await h.discord.slash(user, { name: 'schedule', subcommand: 'timezone', options: { zone } });
    const reply = (await interaction.waitForReply()).content;
    expect(reply).toBe('The zone option takes at most 64 characters; yours has 5,000. Nothing was changed.');
    expect((await h.services.schedules.get(user.id)).timezone).toBeUndefined();
    expect(await h.discord.autocomplete(user, { name: 'schedule', subcommand: 'timezone', options: { zone } }, 'zone')).toEqual([]);
  });

  it('every command and subcommand with maximal inputs answers, and no message breaks a limit', async () => {
    const admin = h.discord.addMember({ username: 'maximal', permissions: MANAGE_GUILD });
    await h.linkUser(admin);
    const role = h.discord.addRole({ name: 'r'.repeat(100) });
    const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#225588' } }).png().toBuffer();
    const valueFor = (option: Definition): OptionValue | undefined => {
      switch (option.type) {
        case ApplicationCommandOptionType.String:
          if (option.choices?.length) return String(option.choices[0]!.value);
          // Valid where a wrong value would stop the command before it builds its real reply.
          if (option.name === 'background') return '#1da1f2';
          if (option.name === 'name' && option.max_length === 64) return 'e\u0301'.repeat(32); // 32 letters once NFC
          return longest(option.max_length ?? 6000);
        case ApplicationCommandOptionType.Integer:
          return 2_147_483_647;
        case ApplicationCommandOptionType.Attachment:
          return { attachment: { filename: `${'n'.repeat(200)}.png`, bytes: photo } };
        case ApplicationCommandOptionType.Channel:
          return { channel: h.discord.guild.channelId };
        case ApplicationCommandOptionType.Role:
          return { role: role.id };
        default:
          return undefined;
      }
    };
    const runs: string[] = [];
    for (const command of commands) {
      for (const sub of (command.definition.options ?? []) as Definition[]) {
        if (sub.type !== ApplicationCommandOptionType.Subcommand) continue;
        const options: Record<string, OptionValue> = {};
        for (const option of sub.options ?? []) {
          const value = valueFor(option);
          if (value !== undefined) options[option.name] = value;
        }
        for (const option of sub.options ?? []) {
          if (!option.autocomplete) continue;
          const choices = await h.discord.autocomplete(admin, { name: command.definition.name, subcommand: sub.name, options }, option.name);
          expect(choices.length).toBeLessThanOrEqual(25);
        }
        const interaction = await h.discord.slash(admin, { name: command.definition.name, subcommand: sub.name, options });
        const reply = await interaction.waitForReply((message) => message.content !== '' || message.embeds.length > 0, 15_000);
        runs.push(`/${command.definition.name} ${sub.name}: ${reply.content.slice(0, 60)}`);
        // Answer confirmations so nothing waits for a click after the test.
        const cancel = JSON.stringify(reply.components).match(/"custom_id":"([^"]*cancel[^"]*)"/)?.[1];
        if (cancel) await (await interaction.click(cancel)).waitForAck();
      }
    }
    expect(runs.length).toBeGreaterThan(20);
    expect(overLimit(h.discord.calls)).toEqual([]);
  });

  it('the Discord server refuses an over-limit reply with 50035, as Discord does', async () => {
    const user: TestUser = h.discord.addMember({ username: 'limit-check' });
    const interaction = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' });
    await interaction.waitForReply();
    const response = await fetch(`${h.discord.apiUrl}/v10/webhooks/${h.discord.applicationId}/${interaction.payload.token as string}/messages/@original`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ embeds: [{ title: 't', fields: [{ name: 'n', value: 'v'.repeat(1025) }] }] }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: number }).code).toBe(50035);
  });
});
