/**
 * Steps and checks shared by the bot's end-to-end tests: what a user does in Discord (link, run a
 * command with an attachment) and what a test looks at afterwards (buttons, the state a failure must
 * leave untouched, the signatures X checked).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { startHarness, type Harness, type HarnessOptions } from '../support/bot-harness.js';
import { componentsOf, type AttachmentInput, type Interaction, type Message, type TestUser } from '../support/discord-server.js';
import type { FakeXUser, XServer } from '../support/x-server.js';

export const fixture = (name: string): Buffer => readFileSync(join('test/fixtures/images/sharp', name));

/** How long a command that talks to X may take here (retries with backoff included). */
export const SLOW_MS = 15_000;

interface Button {
  type: number;
  style?: number;
  label?: string;
  url?: string;
  custom_id?: string;
}

/** Every button of a message, link buttons (which have no custom id) included. */
export function buttonsOf(message: Message): Button[] {
  const rows = message.components as unknown as Array<{ components?: Button[] }>;
  return rows.flatMap((row) => row.components ?? []).filter((component) => component.type === 2);
}

/** The custom id of the one component whose id starts with `prefix`. */
export function customIdOf(message: Message, prefix: string): string {
  const ids = componentsOf(message).map((component) => String(component.custom_id)).filter((id) => id.startsWith(prefix));
  expect(ids, `components starting with ${prefix}`).toHaveLength(1);
  return ids[0]!;
}

/** The request token in the "Authorise on X" link button. */
export function requestTokenOf(message: Message): string {
  const authorize = buttonsOf(message).find((button) => button.label === 'Authorise on X');
  expect(authorize?.url).toBeDefined();
  return new URL(authorize!.url!).searchParams.get('oauth_token')!;
}

export const image = (filename: string, bytes: Buffer, extra: Omit<AttachmentInput, 'filename' | 'bytes'> = {}) => ({ attachment: { filename, bytes, ...extra } });

/** Run /avatar <subcommand> with an image and wait for the bot's final answer. */
export async function avatarCommand(
  h: Harness,
  user: TestUser,
  subcommand: 'set' | 'preview',
  attachment: { attachment: AttachmentInput },
  options: Record<string, string> = {},
): Promise<{ interaction: Interaction; reply: Message }> {
  const interaction = await h.discord.slash(user, { name: 'avatar', subcommand, options: { image: attachment, ...options } });
  const reply = await interaction.waitForReply(undefined, SLOW_MS);
  return { interaction, reply };
}

/** /twitter link, approve at X, Enter PIN: the whole PIN flow, asserting it worked. */
export async function linkWithPin(h: Harness, user: TestUser, xUser: FakeXUser): Promise<void> {
  const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
  const prompt = await link.waitForReply();
  const { verifier } = h.x.approve(requestTokenOf(prompt), xUser.id);
  const click = await link.click(customIdOf(prompt, 'twitter:pin:'));
  const submitted = await click.submitModal({ pin: verifier });
  expect((await submitted.waitForReply()).content).toBe(`Linked @${xUser.screenName}. Use /avatar set to change your X avatar.`);
}

/** What a failed command must leave as it was: the uploads at X, the user's link and history. */
export async function stateOf(h: Harness, user: TestUser) {
  return {
    uploads: h.x.uploads.length,
    link: await h.records.vault.get(user.id),
    history: await h.services.avatars.history(user.id),
  };
}

/** Every request the bot signed since `from` carried a valid OAuth 1.0a signature. */
export function expectValidSignatures(x: XServer, from = 0): void {
  const signed = x.requests.slice(from).filter((request) => request.oauthParams !== null);
  expect(signed.length).toBeGreaterThan(0);
  expect(signed.filter((request) => !request.authOk).map((request) => `${request.method} ${request.path}: ${request.detail ?? ''}`)).toEqual([]);
}

/** The reply is ephemeral, plain text (no embed, no file) and says exactly `content`. */
export function expectPlainEphemeral(interaction: Interaction, reply: Message, content: string): void {
  expect(reply.content).toBe(content);
  expect(interaction.ephemeral).toBe(true);
  expect(reply.embeds).toEqual([]);
  expect(interaction.files).toEqual([]);
}

export const EPHEMERAL = 64;

/**
 * Start the whole bot before the tests of the enclosing describe (or file) and stop it after them,
 * checking that the bot made no REST call the Discord server did not expect. The returned object
 * stands for the running harness.
 */
export function useHarness(options?: HarnessOptions): Harness {
  let running: Harness | undefined;
  beforeAll(async () => {
    running = await startHarness(options);
  });
  afterAll(async () => {
    expect(running?.discord.unexpectedCalls).toEqual([]);
    await running?.close();
  });
  return new Proxy({} as Harness, {
    get(_, property) {
      if (!running) throw new Error('the harness is used before beforeAll started it');
      return Reflect.get(running, property, running);
    },
  });
}
