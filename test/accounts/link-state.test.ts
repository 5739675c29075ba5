/**
 * "Is this link broken?" is decided once (src/accounts/link-state.ts): a link X refused is reported the
 * same way by every edge that needs a working link, through the real discord.js client and the real CLI.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { t } from '../../src/i18n/t.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { avatarCommand, buttonsOf, fixture, image, SLOW_MS, useHarness } from '../bot/helpers.js';

const CLI = resolve('dist/src/cli.js');
const REVOKED = t('en-US', 'bot.error.link-revoked');
const LINK_AGAIN = { label: 'Link again', custom_id: 'twitter:start:' };

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

describe('a revoked link', () => {
  const h = useHarness();

  it('is reported the same way by /avatar set, /schedule writes, /library add, /branding-consent join, /twitter status and the CLI', async () => {
    const user = h.discord.addMember({ username: 'revoked_everywhere' });
    const account = await h.linkUser(user);
    await (await h.discord.slash(user, { name: 'schedule', subcommand: 'timezone', options: { zone: 'Europe/Berlin' } })).waitForReply();
    // X refuses the token: the first change that meets it marks the link revoked.
    h.x.revoke(account.id);
    await avatarCommand(h, user, 'set', image('me.jpg', fixture('concert.jpg')));
    expect((await h.records.vault.get(user.id))?.status).toBe('revoked');
    const uploads = h.x.uploads.length;
    const requests = h.x.requests.length;

    const replies = {
      avatar: (await avatarCommand(h, user, 'set', image('me.jpg', fixture('concert.jpg')))).reply,
      scheduleTimezone: await (await h.discord.slash(user, { name: 'schedule', subcommand: 'timezone', options: { zone: 'Asia/Tokyo' } })).waitForReply(),
      scheduleNotify: await (await h.discord.slash(user, { name: 'schedule', subcommand: 'notify', options: { where: 'off' } })).waitForReply(),
      libraryAdd: await (await h.discord.slash(user, { name: 'library', subcommand: 'add', options: { name: 'winter', image: { attachment: { filename: 'w.jpg', bytes: fixture('concert.jpg') } } } })).waitForReply(undefined, SLOW_MS),
    };
    for (const [edge, reply] of Object.entries(replies)) {
      expect(reply.content, edge).toBe(REVOKED);
      expect(buttonsOf(reply), edge).toMatchObject([LINK_AGAIN]);
    }
    // Nothing was written or asked of X for them.
    const record = await h.services.schedules.get(user.id);
    expect(record.timezone).toBe('Europe/Berlin');
    expect(record.notify).toEqual({ mode: 'dm' });
    expect(await h.services.library.list(user.id)).toEqual([]);
    expect(h.x.uploads.length).toBe(uploads);
    expect(h.x.requests.length).toBe(requests);

    // Joining is the member's own say and is kept; the reply says the link is revoked, in the same words and with the same button.
    const join = await (await h.discord.slash(user, { name: 'branding-consent', subcommand: 'join' })).waitForReply();
    expect(join.content).toContain(REVOKED);
    expect(buttonsOf(join)).toMatchObject([LINK_AGAIN]);
    expect(await h.services.branding.consent.has(h.discord.guild.id, user.id)).toBe(true);

    // /twitter status asks X again, which still refuses: revoked, with the same button.
    const status = await (await h.discord.slash(user, { name: 'twitter', subcommand: 'status' })).waitForReply();
    expect(JSON.stringify(status.embeds)).toContain(t('en-US', 'twitter.status.revoked'));
    expect(buttonsOf(status)).toMatchObject([LINK_AGAIN]);

    // The CLI, on the same store: the same kind, in the terminal's words.
    const env = localServicesEnv(h.x, h.dataDir, { TOKEN_ENCRYPTION_KEY: h.config.tokenEncryptionKey!.toString('base64'), STORE_URL: h.config.storeUrl });
    const set = await cli(['set', resolve('test/fixtures/images/sharp/flowers.jpeg'), '--discord-user', user.id], env);
    expect(set.code).toBe(1);
    expect(set.stderr).toBe(`error: ${t('en-US', 'cli.error.link-revoked', { discordUserId: user.id })}\n`);
    expect(h.x.uploads.length).toBe(uploads);
  });
});
