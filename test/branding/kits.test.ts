/**
 * Kit pushes through the real discord.js client against the local Discord and X servers: consent per part
 * (a member who allowed only the avatar keeps their name), the report part by part, the revert of a kit push
 * (each part the push changed, unless the member changed it since), and ask mode (two approve, one declines,
 * one never answers; a restart in the middle keeps asking; Approve after the deadline is too late).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../bot/helpers.js';
import { startHarness, type Harness } from '../support/bot-harness.js';
import type { Interaction, Message, TestUser } from '../support/discord-server.js';
import type { FakeXUser } from '../support/x-server.js';

const MANAGE_GUILD = 1n << 5n;
/** The bot's clock: an ask-mode deadline is on it, so the test moves it past the deadline. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };
let h: Harness;
let admin: TestUser;

beforeAll(async () => {
  h = await startHarness({ clock, x: { processingDelayMs: 50 }, env: { TWITTER_PROCESSING_DELAY_MS: '50' } });
  admin = h.discord.addMember({ username: 'kit-admin', permissions: MANAGE_GUILD });
  await h.linkUser(admin, 'kit_admin');
  // The admin's kit: an avatar, a banner and a name template.
  const kit = await h.discord.slash(admin, {
    name: 'library',
    subcommand: 'kit',
    options: {
      name: 'nova',
      avatar: { attachment: { filename: 'a.jpg', bytes: fixture('flowers.jpeg') } },
      banner: { attachment: { filename: 'b.jpg', bytes: fixture('concert.jpg') } },
      'name-template': '{name} | Nova',
    },
  });
  expect((await kit.waitForReply(undefined, 15_000)).content).toContain('Saved the kit "nova"');
});
afterAll(async () => {
  expect(h.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

async function member(username: string, displayName: string, parts: Record<string, boolean> = {}): Promise<{ user: TestUser; account: FakeXUser; consent: string }> {
  const user = h.discord.addMember({ username });
  const account = await h.linkUser(user, username);
  h.x.setProfile(account.id, { name: displayName });
  const join = await h.discord.slash(user, { name: 'branding-consent', subcommand: 'join', options: parts as never });
  return { user, account, consent: (await join.waitForReply()).content };
}

async function confirmPush(push: Interaction, expected: string): Promise<Interaction> {
  const prompt = await push.waitForReply((message) => message.content.endsWith('Push it?'), 15_000);
  expect(prompt.content).toBe(expected);
  const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(prompt.components))![1]!;
  return push.click(confirm);
}

const uploadsOf = (account: FakeXUser) => h.x.uploads.filter((upload) => upload.userId === account.id).length;

describe('a kit push in consented mode', () => {
  let ana: Awaited<ReturnType<typeof member>>;
  let bo: Awaited<ReturnType<typeof member>>;

  it('changes each member’s allowed parts only: one who allowed only the avatar keeps their name and gets no banner', async () => {
    ana = await member('kit_ana', 'Ana', { banner: true, name: true });
    bo = await member('kit_bo', 'Bo');
    expect(ana.consent).toContain('Admins may change your avatar, banner, and display name; not your bio.');
    expect(bo.consent).toContain('allow the admins of this server (members with Manage Server) to set your X avatar');
    expect(bo.consent).toContain('Admins may change your avatar; not your banner, display name, and bio.');

    const push = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: { kit: 'nova', label: 'Nova' } });
    const click = await confirmPush(
      push,
      'The kit "nova" (avatar, banner, and display name) goes to **2** members (opted in, linked, in the server), each with only the parts they allowed. Push it?',
    );
    const final = await click.waitForReply((message) => message.content.startsWith('Pushed'), 30_000);
    expect(final.content).toBe('Pushed "Nova": 2 succeeded, 0 failed, 0 skipped. The full report is attached.');

    expect(h.x.profile(ana.account.id).name).toBe('Ana | Nova');
    expect(h.x.profileBannerUrl(ana.account.id)).toBeDefined();
    expect(uploadsOf(ana.account)).toBe(1);
    expect(h.x.profile(bo.account.id).name).toBe('Bo');
    expect(h.x.profileBannerUrl(bo.account.id)).toBeUndefined();
    expect(uploadsOf(bo.account)).toBe(1);

    const report = click.files.at(-1)!.bytes.toString();
    expect(report).toMatch(new RegExp(`${bo.user.id}  avatar: \\S+ · banner: part not allowed · display name: part not allowed`));
    expect(report).toMatch(new RegExp(`${ana.user.id}  avatar: \\S+ · banner: \\S+ · display name: Ana \\| Nova`));
    const dm = await h.discord.waitForDm(ana.user.id, (message) => message.content.includes('changed your X'));
    expect(dm.message.content).toContain('changed your X avatar, banner, and display name ("Nova")');
  });

  it('revert restores every part the push changed, except a part the member changed since', async () => {
    // Ana sets her own avatar after the push: that part is hers now.
    const own = await h.discord.slash(ana.user, { name: 'avatar', subcommand: 'set', options: { image: { attachment: { filename: 'own.jpg', bytes: fixture('Landscape_1.jpg') } } } });
    await own.waitForReply((message) => message.embeds.length > 0, 30_000);
    const uploadsBefore = { ana: uploadsOf(ana.account), bo: uploadsOf(bo.account) };

    const revert = await h.discord.slash(admin, { name: 'branding', subcommand: 'revert' });
    expect((await revert.waitForReply((message) => message.content.startsWith('Reverted'), 30_000)).content).toBe('Reverted "Nova": 2 restored, 0 failed, 0 skipped (changed since).');

    expect(h.x.profile(ana.account.id).name).toBe('Ana');
    expect(h.x.profileBannerUrl(ana.account.id)).toBeUndefined(); // she had none
    expect(uploadsOf(ana.account)).toBe(uploadsBefore.ana); // her own avatar stays
    expect(uploadsOf(bo.account)).toBe(uploadsBefore.bo + 1); // his avatar from before, again
    const job = (await h.services.branding.pushes.status(h.discord.guild.id)).find((candidate) => candidate.label === 'Nova')!;
    expect(job.reverts?.[ana.user.id]?.parts).toMatchObject({ avatar: { status: 'skipped', kind: 'changed-since' }, banner: { status: 'done' }, name: { status: 'done' } });
    expect((await h.services.avatars.partHistory(ana.user.id, 'name')).entries).toEqual([]);
  });
});

describe('a kit push in ask mode', () => {
  it('asks each member with a preview; two approve (one across a restart), one declines, one never answers; only approvals change', async () => {
    const log = h.discord.addChannel({ name: 'kit-log' });
    await (await h.discord.slash(admin, { name: 'branding', subcommand: 'settings', options: { 'log-channel': { channel: log.id } } })).waitForReply();
    const cleo = await member('ask_cleo', 'Cleo', { banner: true, name: true });
    const dan = await member('ask_dan', 'Dan', { name: true });
    const eve = await member('ask_eve', 'Eve', { name: true });
    const fay = await member('ask_fay', 'Fay', { name: true });
    const everyone = [cleo, dan, eve, fay];
    // Earlier members opted in too; they are asked as well and never answer.
    const opted = (await h.services.branding.consent.members(h.discord.guild.id)).length;

    const push = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: { kit: 'nova', label: 'Ask', mode: 'ask', deadline: 2 } });
    const click = await confirmPush(
      push,
      `The kit "nova" (avatar, banner, and display name) goes to **${opted}** members (opted in, linked, in the server), each with only the parts they allowed. Ask mode: each member is asked privately and only those who approve within 2 h are changed. Push it?`,
    );
    expect((await click.waitForReply((message) => message.content.startsWith('Asked'), 30_000)).content).toMatch(new RegExp(`^Asked ${opted} members privately\\. The push runs at <t:\\d+:f> for those who approved`));

    const questions = new Map<string, Message>();
    for (const { user } of everyone) questions.set(user.id, (await h.discord.waitForDm(user.id, (message) => message.content.includes('would like to change'))).message);
    const cleoDm = await h.discord.waitForDm(cleo.user.id, (message) => message.content.includes('would like to change'));
    expect(cleoDm.message.content).toContain('would like to change your X avatar, banner, and display name ("Ask")');
    expect(cleoDm.message.content).toContain('Display name: Cleo | Nova'); // her own name in the template
    expect(cleoDm.files.map((file) => file.name).sort()).toEqual(['avatar-preview.png', 'banner-preview.png']);
    const danDm = await h.discord.waitForDm(dan.user.id, (message) => message.content.includes('would like to change'));
    expect(danDm.message.content).toContain('your X avatar and display name ("Ask")');
    expect(danDm.message.content).toContain('Display name: Dan | Nova');
    expect(h.x.profile(cleo.account.id).name).toBe('Cleo'); // nothing changes while asking

    const jobId = /branding-consent:approve:([^"]+)"/.exec(JSON.stringify(cleoDm.message.components))![1]!;
    const answer = async (who: TestUser, action: 'approve' | 'decline', expected: string) => {
      const clicked = await h.discord.click(questions.get(who.id)!, `branding-consent:${action}:${jobId}`, { user: who });
      expect((await clicked.waitForReply((message) => message.content.includes(expected), 15_000)).content).toContain(expected);
    };
    await answer(cleo.user, 'approve', 'Approved: it is applied at the deadline.');
    await h.restart(); // the job keeps asking with its deadline; the questions are not sent again
    await answer(dan.user, 'approve', 'Approved: it is applied at the deadline.');
    await answer(eve.user, 'decline', 'Declined: nothing of yours changes.');
    expect((await h.services.branding.pushes.status(h.discord.guild.id))[0]).toMatchObject({ state: 'asking' });

    clock.offset = 2 * 3_600_000 + 1_000; // past the deadline
    const posted = await h.discord.waitForMessage((message) => message.channelId === log.id && message.message.content.includes('"Ask"'), 30_000);
    clock.offset = 0;
    expect(posted.message.content).toBe(`<@${admin.id}> Pushed "Ask": 2 changed, 1 declined, ${opted - 3} no answer, 0 failed, 0 skipped. The full report is attached.`);
    const report = posted.files[0]!.bytes.toString();
    expect(report).toContain(`Declined (1):\n  ${eve.user.id}`);
    expect(report).toContain(`  ${fay.user.id}`);

    expect(h.x.profile(cleo.account.id).name).toBe('Cleo | Nova');
    expect(h.x.profileBannerUrl(cleo.account.id)).toBeDefined();
    expect(h.x.profile(dan.account.id).name).toBe('Dan | Nova');
    expect(h.x.profileBannerUrl(dan.account.id)).toBeUndefined(); // not allowed
    for (const untouched of [eve, fay]) {
      expect(h.x.profile(untouched.account.id).name).toBe(untouched.user.username === 'ask_eve' ? 'Eve' : 'Fay');
      expect(uploadsOf(untouched.account)).toBe(0);
    }
    for (const { user } of everyone) expect(h.discord.messages.filter((message) => message.recipientId === user.id && message.message.content.includes('would like to change'))).toHaveLength(1);

    await answer(fay.user, 'approve', 'Too late: the time to answer is over, and nothing of yours was changed.');
    expect(uploadsOf(fay.account)).toBe(0);
  });
});
