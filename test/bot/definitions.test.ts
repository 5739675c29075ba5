/**
 * Commands as data: what the real discord.js client registers is each command's definition as it stands,
 * and every subcommand and choice value that registration offers a user reaches a handler that knows it.
 * A handler that switches on a value its definition does not have (a typo'd `case 'previev'`) leaves that
 * subcommand unanswered; a crop value the reader or the pipeline does not know gives the same image as
 * another one. Both fail here, whatever tsc was told.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ApplicationCommandOptionType } from 'discord.js';
import { commands } from '../../commands/index.js';
import { normalizeAvatar, type CropMode } from '../../src/avatar/normalize.js';
import { t } from '../../src/i18n/t.js';
import type { OptionValue } from '../support/discord-server.js';
import { image, SLOW_MS, useHarness } from './helpers.js';

interface RegisteredOption {
  name: string;
  type: number;
  required?: boolean;
  min_length?: number;
  choices?: Array<{ value: string | number }>;
  options?: RegisteredOption[];
}

const INTERNAL_ERROR = t('en-US', 'bot.error.frame.internal');

/** A 600x200 picture whose left third is busy and saturated and the rest flat: each crop mode makes a different square of it. */
async function wideBusyLeft(): Promise<Buffer> {
  const stripes = Buffer.alloc(200 * 200 * 3);
  for (let y = 0; y < 200; y++) {
    for (let x = 0; x < 200; x++) {
      const at = (y * 200 + x) * 3;
      const on = (Math.floor(x / 10) + Math.floor(y / 10)) % 2 === 0;
      stripes[at] = on ? 230 : 20;
      stripes[at + 1] = on ? 30 : 200;
      stripes[at + 2] = 40;
    }
  }
  return sharp({ create: { width: 600, height: 200, channels: 3, background: '#808080' } })
    .composite([{ input: stripes, raw: { width: 200, height: 200, channels: 3 }, left: 0, top: 0 }])
    .png()
    .toBuffer();
}

describe('command definitions', () => {
  const h = useHarness();

  it('registration sends every command definition as it is', () => {
    const puts = h.discord.calls.filter((call) => call.route === 'PUT /applications/:app/commands');
    expect(puts).toHaveLength(1);
    expect(puts[0]!.status).toBe(200);
    expect(puts[0]!.body).toEqual(JSON.parse(JSON.stringify(commands.map((command) => command.definition))));
  });

  it('every registered subcommand, with every value of each choice option, is answered by its handler', async () => {
    // In the server, linked to nothing and no admin: each handler answers at once (not linked, not an admin, nothing stored).
    const member = h.discord.addMember({ username: 'every-choice' });
    const photo = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#225588' } }).png().toBuffer();
    const required = (option: RegisteredOption): OptionValue | undefined => {
      switch (option.type) {
        case ApplicationCommandOptionType.String:
          return 'x'.repeat(option.min_length ?? 1);
        case ApplicationCommandOptionType.Attachment:
          return image('small.png', photo);
        default:
          return undefined;
      }
    };
    const runs: Array<{ command: string; subcommand: string; options: Record<string, OptionValue> }> = [];
    for (const command of h.discord.commands as unknown as RegisteredOption[]) {
      for (const sub of command.options ?? []) {
        if (sub.type !== ApplicationCommandOptionType.Subcommand) continue;
        const base: Record<string, OptionValue> = {};
        for (const option of sub.options ?? []) {
          const value = option.choices?.length ? option.choices[0]!.value : option.required ? required(option) : undefined;
          if (value !== undefined) base[option.name] = value;
        }
        runs.push({ command: command.name, subcommand: sub.name, options: base });
        for (const option of sub.options ?? []) {
          for (const choice of option.choices?.slice(1) ?? []) runs.push({ command: command.name, subcommand: sub.name, options: { ...base, [option.name]: choice.value } });
        }
      }
    }
    // Every subcommand of every command, and the other values of crop, order, where and part.
    expect(new Set(runs.map((run) => `${run.command} ${run.subcommand}`)).size).toBe(commands.reduce((count, command) => count + (command.definition.options?.length ?? 0), 0));
    const unanswered: string[] = [];
    for (const run of runs) {
      const interaction = await h.discord.slash(member, { name: run.command, subcommand: run.subcommand, options: run.options });
      const what = `/${run.command} ${run.subcommand} ${JSON.stringify(run.options).replace(/"bytes":\{[^}]*\}/g, '')}`;
      const reply = await interaction.waitForReply((message) => message.content !== '' || message.embeds.length > 0, 3_000).catch(() => undefined);
      if (!reply) unanswered.push(`${what}: no answer`);
      else if (reply.content.includes(INTERNAL_ERROR)) unanswered.push(`${what}: ${reply.content}`);
    }
    expect(unanswered).toEqual([]);
  });

  it('each crop value /avatar set offers reaches the image X receives, and each gives a different one', async () => {
    const user = h.discord.addMember({ username: 'cropper' });
    const xUser = await h.linkUser(user);
    const avatar = (h.discord.commands as unknown as RegisteredOption[]).find((command) => command.name === 'avatar');
    const crops = avatar?.options?.find((sub) => sub.name === 'set')?.options?.find((option) => option.name === 'crop')?.choices?.map((choice) => String(choice.value));
    expect(crops).toHaveLength(3);
    const bytes = await wideBusyLeft();
    const received: Buffer[] = [];
    for (const crop of crops!) {
      const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('wide.png', bytes), crop } });
      const reply = await interaction.waitForReply(undefined, SLOW_MS);
      expect(reply.embeds[0]?.title, `crop ${crop}`).toBe('Avatar updated');
      const upload = h.x.uploads.at(-1)!;
      expect(upload.userId).toBe(xUser.id);
      // The pipeline's own answer for this value: a value it did not know would fall back to another mode.
      expect(upload.bytes.equals((await normalizeAvatar(bytes, { crop: crop as CropMode })).data), `crop ${crop}`).toBe(true);
      received.push(upload.bytes);
    }
    expect(new Set(received.map((data) => data.toString('base64'))).size).toBe(crops!.length);
  });
});
