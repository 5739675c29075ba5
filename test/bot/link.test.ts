/**
 * /twitter link (PIN and callback flows), /twitter status and /twitter unlink, driven through the
 * gateway against the X-compatible server.
 */
import { describe, expect, it } from 'vitest';
import { X_PATHS, xFaults } from '../support/x-server.js';
import { Browser } from '../support/browser.js';
import type { TestUser } from '../support/discord-server.js';
import { avatarCommand, buttonsOf, customIdOf, EPHEMERAL, expectValidSignatures, fixture, image, linkWithPin, requestTokenOf, SLOW_MS, stateOf, useHarness } from './helpers.js';

const linkedText = (screenName: string) => `Linked @${screenName}. Use /avatar set to change your X avatar.`;

describe('PIN flow (no PUBLIC_URL)', () => {
  const h = useHarness();

  it('links with the PIN X shows: button, modal, "Linked @name", tokens stored', async () => {
    const user = h.discord.addMember({ username: 'pin-alice' });
    const xUser = h.x.addUser({ screenName: 'alice_x' });
    const firstRequest = h.x.requests.length;

    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const prompt = await link.waitForReply();
    expect(link.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(link.ephemeral).toBe(true);
    expect(prompt.content).toContain('X shows a PIN: click **Enter PIN**');
    expect(buttonsOf(prompt).map((button) => button.label)).toEqual(['Authorise on X', 'Enter PIN']);
    const requestToken = requestTokenOf(prompt);
    expect(buttonsOf(prompt)[0]!.url).toBe(`${h.x.url}${X_PATHS.authorize}?oauth_token=${requestToken}`);

    const { verifier } = h.x.approve(requestToken, xUser.id);
    const click = await link.click(`twitter:pin:${requestToken}`);
    const modal = await click.waitForModal();
    expect(modal.custom_id).toBe(`twitter:pin-modal:${requestToken}`);
    const submitted = await click.submitModal({ pin: verifier });
    const linked = await submitted.waitForReply();
    expect(linked.content).toBe(linkedText('alice_x'));
    expect(submitted.ephemeral).toBe(true);

    const stored = await h.records.vault.get(user.id);
    expect(stored).toMatchObject({ xUserId: xUser.id, screenName: 'alice_x', status: 'active' });
    // The stored tokens are the ones X issued for this sign-in: they work.
    await expect(h.records.x.verifyCredentials(stored!)).resolves.toMatchObject({ id: xUser.id });
    expectValidSignatures(h.x, firstRequest);
  });

  it('refuses a wrong PIN with a specific message, stores nothing, and the right PIN still works after', async () => {
    const user = h.discord.addMember({ username: 'pin-bob' });
    const xUser = h.x.addUser({ screenName: 'bob_x' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const prompt = await link.waitForReply();
    const requestToken = requestTokenOf(prompt);
    const { verifier } = h.x.approve(requestToken, xUser.id);
    const wrong = String((Number(verifier) + 1) % 10_000_000).padStart(7, '0');

    const first = await link.click(`twitter:pin:${requestToken}`);
    const refused = await (await first.submitModal({ pin: wrong })).waitForReply();
    // X refused the PIN, not the link: the words offer to try the PIN again (test/i18n/errors.test.ts checks the button).
    expect(refused.content).toMatch(/^X did not accept that PIN\. .*try the PIN again/);
    expect(refused.flags! & EPHEMERAL).toBe(EPHEMERAL);
    expect(await h.records.vault.get(user.id)).toBeUndefined();

    const second = await link.click(`twitter:pin:${requestToken}`);
    const notANumber = await (await second.submitModal({ pin: 'abcdefg' })).waitForReply();
    expect(notANumber.content).toBe('The PIN is the number X shows after you authorise the app (usually 7 digits).');
    expect(await h.records.vault.get(user.id)).toBeUndefined();

    const third = await link.click(`twitter:pin:${requestToken}`);
    expect((await (await third.submitModal({ pin: verifier })).waitForReply()).content).toBe(linkedText('bob_x'));
    expect(await h.records.vault.get(user.id)).toMatchObject({ xUserId: xUser.id, status: 'active' });
  });

  it('/twitter status shows the account, its 400x400 avatar and a working link; after X revokes it, "revoked" and a relink button', async () => {
    const user = h.discord.addMember({ username: 'status-carol' });
    const xUser = await h.linkUser(user, 'carol_x');

    const status = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' });
    const healthy = await status.waitForReply();
    expect(status.ephemeral).toBe(true);
    const embed = healthy.embeds[0]!;
    expect(embed.title).toBe('@carol_x');
    expect(embed.thumbnail?.url).toBe(h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400'));
    expect(embed.thumbnail?.url).toMatch(/_400x400\.png$/);
    expect(embed.fields?.find((field) => field.name === 'Link health')?.value).toBe('Working');
    expect(embed.fields?.find((field) => field.name === 'Avatars applied by the bot')?.value).toBe('0');
    expect(healthy.components).toEqual([]);

    h.x.revoke(xUser.id);
    const again = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' });
    const revoked = await again.waitForReply();
    expect(revoked.embeds[0]?.fields?.find((field) => field.name === 'Link health')?.value).toBe('Revoked: link again');
    expect(buttonsOf(revoked).map((button) => [button.label, button.custom_id])).toEqual([['Link again', 'twitter:start:']]);
    expect((await h.records.vault.get(user.id))?.status).toBe('revoked');

    // The button starts a fresh link, and linking again makes the link active.
    const relink = await again.click('twitter:start:');
    const prompt = await relink.waitForReply();
    expect(relink.ephemeral).toBe(true);
    const { verifier } = h.x.approve(requestTokenOf(prompt), xUser.id);
    const submitted = await (await relink.click(customIdOf(prompt, 'twitter:pin:'))).submitModal({ pin: verifier });
    expect((await submitted.waitForReply()).content).toBe(linkedText('carol_x'));
    expect((await h.records.vault.get(user.id))?.status).toBe('active');
  });

  it('unlink, confirmed: revokes the token at X and deletes the tokens and the history', async () => {
    const user = h.discord.addMember({ username: 'unlink-dan' });
    const xUser = h.x.addUser({ screenName: 'dan_x' });
    await linkWithPin(h, user, xUser);
    await avatarCommand(h, user, 'set', image('me.jpg', fixture('flowers.jpeg')));
    const before = await stateOf(h, user);
    expect(before.history.entries).toHaveLength(1);
    const hashes = [before.history.entries[0]!.hash, before.history.original?.saved ? before.history.original.hash : ''];
    const firstRequest = h.x.requests.length;

    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' });
    const question = await unlink.waitForReply();
    expect(question.content).toBe('Unlink @dan_x? The bot revokes its access at X and deletes your tokens and avatar history.');
    expect(unlink.ephemeral).toBe(true);
    expect(buttonsOf(question).map((button) => button.label)).toEqual(['Unlink', 'Cancel']);
    const confirm = await unlink.click(customIdOf(question, 'twitter:unlink-confirm:'));
    const done = await confirm.waitForReply((message) => message.content.startsWith('Unlinked'));
    expect(done.content).toBe('Unlinked @dan_x: access revoked at X, tokens and history deleted.');
    expect(done.components).toEqual([]);

    const invalidate = h.x.requests.slice(firstRequest).filter((request) => request.path === X_PATHS.invalidateToken);
    expect(invalidate).toMatchObject([{ method: 'POST', status: 200, authOk: true, oauthParams: { oauth_token: before.link!.token } }]);
    await expect(h.records.x.verifyCredentials(before.link!)).rejects.toMatchObject({ kind: 'token-revoked' });
    expect(await h.records.vault.get(user.id)).toBeUndefined();
    expect(await h.services.avatars.history(user.id)).toEqual({ entries: [] });
    for (const hash of hashes) expect(await h.services.avatars.historyImage(user.id, hash)).toBeUndefined();
  });

  it.each([
    ['answers 401', xFaults.tokenRevoked(X_PATHS.invalidateToken), 'Your X link has expired or was revoked. Link your X account again'],
    ['is down (503, 4 times)', xFaults.serviceUnavailable(X_PATHS.invalidateToken, { times: 4 }), 'X is having problems right now. Try again in a few minutes'],
  ])('unlink when X %s: deleted here all the same, and the reply says X did not confirm', async (_, fault, problem) => {
    const user = h.discord.addMember({ username: 'unlink-erin' });
    await h.linkUser(user, `erin_${h.x.users.size}`);
    const { screenName } = (await h.records.vault.get(user.id))!;
    await avatarCommand(h, user, 'set', image('me.jpg', fixture('flowers.jpeg')));
    h.x.fail(fault);

    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' });
    const question = await unlink.waitForReply();
    const confirm = await unlink.click(customIdOf(question, 'twitter:unlink-confirm:'));
    const done = await confirm.waitForReply((message) => message.content.startsWith('Unlinked'), SLOW_MS);
    expect(done.content).toBe(
      `Unlinked @${screenName} here: tokens and history deleted. X did not confirm the revocation (${problem}); you can also remove avatar-bot at x.com > Settings > Security > Connected apps.`,
    );
    expect(unlink.ephemeral).toBe(true);
    expect(await h.records.vault.get(user.id)).toBeUndefined();
    expect(await h.services.avatars.history(user.id)).toEqual({ entries: [] });
  });

  it('unlink, cancelled: still linked, nothing sent to X', async () => {
    const user = h.discord.addMember({ username: 'unlink-fay' });
    await h.linkUser(user, 'fay_x');
    await avatarCommand(h, user, 'set', image('me.jpg', fixture('flowers.jpeg')));
    const before = await stateOf(h, user);
    const firstRequest = h.x.requests.length;

    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' });
    const question = await unlink.waitForReply();
    const cancel = await unlink.click(customIdOf(question, 'twitter:unlink-cancel:'));
    const done = await cancel.waitForReply((message) => message.content.startsWith('Cancelled'));
    expect(done.content).toBe('Cancelled: your X account stays linked.');
    expect(done.components).toEqual([]);
    expect(h.x.requests.slice(firstRequest)).toEqual([]);
    expect(await stateOf(h, user)).toEqual(before);
  });
});

describe('callback flow (PUBLIC_URL and DISCORD_CLIENT_SECRET set)', () => {
  const h = useHarness({ callbackFlow: true });
  /** A browser signed in to Discord as `user`. */
  const browserOf = (user: TestUser) => {
    const browser = new Browser();
    browser.setCookie(h.discord.url, h.discord.oauth2.signIn(user.id));
    return browser;
  };
  const accountText = (user: TestUser) => `@${user.username} (id ${user.id})`;

  it('X sends the browser back, it signs in with Discord, the page names the Discord account, and only the POST links', async () => {
    const user = h.discord.addMember({ username: 'cb-gina', globalName: null });
    const xUser = h.x.addUser({ screenName: 'gina_x' });
    const firstRequest = h.x.requests.length;

    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const prompt = await link.waitForReply();
    expect(link.ephemeral).toBe(true);
    expect(prompt.content).toContain('sign in with Discord there, check it names your Discord account, and confirm.');
    expect(buttonsOf(prompt).map((button) => button.label)).toEqual(['Authorise on X', 'Use a PIN instead']);

    const { redirectUrl } = h.x.approve(requestTokenOf(prompt), xUser.id);
    expect(redirectUrl?.startsWith(`${h.httpUrl()}/oauth/callback?`)).toBe(true);
    const browser = browserOf(user);
    const question = await browser.open(redirectUrl!);
    // The browser went through Discord's authorize page (identify, for this application) and came back.
    const grant = h.discord.oauth2.grants.at(-1)!;
    expect(grant).toMatchObject({ userId: user.id, redirectUri: `${h.httpUrl()}/oauth/discord`, exchanged: true });
    expect(question.url.startsWith(`${h.httpUrl()}/oauth/discord?code=`)).toBe(true);
    expect(question.status).toBe(200);
    expect(question.text).toContain(`Link the X account you just approved on X to the Discord account ${accountText(user)}?`);
    expect(question.text).toContain('<form method="post"');
    expect(question.headers.get('x-frame-options')).toBe('DENY');

    // Nothing is linked by a GET: not the callback, not Discord's return, not the confirm path.
    expect(await h.records.vault.get(user.id)).toBeUndefined();
    expect(h.x.requests.slice(firstRequest).filter((request) => request.path === X_PATHS.accessToken)).toEqual([]);
    expect((await browser.open(question.url)).status).toBe(400);
    const get = await fetch(`${h.httpUrl()}/oauth/confirm`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    expect(await h.records.vault.get(user.id)).toBeUndefined();

    const done = await browser.submit(question);
    expect(done.status).toBe(200);
    expect(done.text).toContain('<h1>Linked @gina_x</h1>');
    expect(done.text).toContain(`is linked to the Discord account ${accountText(user)}`);

    const edits = h.discord.calls.filter((call) => call.method === 'PATCH' && call.path.endsWith(`/webhooks/${h.discord.applicationId}/${link.token}/messages/@original`));
    expect(edits).toHaveLength(2); // the prompt, then the confirmation
    expect(edits[1]).toMatchObject({ status: 200, body: { content: linkedText('gina_x'), components: [] } });
    expect(link.original?.content).toBe(linkedText('gina_x'));
    const linked = await h.records.vault.get(user.id);
    expect(linked).toMatchObject({ xUserId: xUser.id, screenName: 'gina_x', status: 'active' });
    expectValidSignatures(h.x, firstRequest);

    // The same callback again (a replay, or the user reloading the page), or the form again: refused, nothing changes.
    const calls = h.discord.calls.length;
    const requests = h.x.requests.length;
    const replay = await browser.open(redirectUrl!);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('That sign-in link has expired or was already used. Run /twitter link again.');
    expect((await browser.submit(question)).status).toBe(400);
    expect(await h.records.vault.get(user.id)).toEqual(linked);
    expect(h.discord.calls.length).toBe(calls);
    expect(h.x.requests.length).toBe(requests);
  });

  it('a forwarded "Authorise on X" link: the victim who approves it is told, and nothing is linked to the sender', async () => {
    const mallory = h.discord.addMember({ username: 'cb-mallory' });
    const victim = h.discord.addMember({ username: 'cb-victim', globalName: 'Victim <b>Name</b>' });
    const xVictim = h.x.addUser({ screenName: 'victim_x' });
    const firstRequest = h.x.requests.length;

    // Mallory starts a link and sends her "Authorise on X" URL to the victim, who approves it on X.
    const link = await h.discord.slash(mallory, { name: 'twitter', subcommand: 'link' });
    const requestToken = requestTokenOf(await link.waitForReply());
    const { redirectUrl } = h.x.approve(requestToken, xVictim.id);
    const refused = await browserOf(victim).open(redirectUrl!);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('You are signed in to Discord as Victim &#60;b&#62;Name&#60;/b&#62; (@cb-victim, id ' + victim.id + '), but this X sign-in was started by a different Discord account');
    expect(refused.text).not.toContain('<b>Name');
    expect(refused.text).not.toContain('<form');

    expect(await h.records.vault.get(mallory.id)).toBeUndefined();
    expect(await h.records.vault.get(victim.id)).toBeUndefined();
    // The verifier was never exchanged: X issued no access token for this sign-in.
    expect(h.x.requests.slice(firstRequest).filter((request) => request.path === X_PATHS.accessToken)).toEqual([]);
    // And Mallory's own avatar command finds no link.
    const set = await avatarCommand(h, mallory, 'set', image('me.jpg', fixture('flowers.jpeg')));
    expect(set.reply.content).toContain('not linked');
    expect(h.x.uploads.filter((upload) => upload.userId === xVictim.id)).toEqual([]);

    // The pending link is gone: even Mallory, signed in as herself, cannot use the callback now.
    const late = await browserOf(mallory).open(redirectUrl!);
    expect(late.status).toBe(400);
    expect(await h.records.vault.get(mallory.id)).toBeUndefined();
  });

  it("the Discord step must come back to the browser X sent back: another browser with the right Discord account is refused", async () => {
    const user = h.discord.addMember({ username: 'cb-jo' });
    const xUser = h.x.addUser({ screenName: 'jo_x' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const { redirectUrl } = h.x.approve(requestTokenOf(await link.waitForReply()), xUser.id);

    // The browser X sent back gets the cookie and the way to Discord, but stops there.
    const first = await fetch(redirectUrl!, { redirect: 'manual' });
    expect(first.status).toBe(302);
    expect(first.headers.getSetCookie()[0]).toMatch(/^avatar_bot_link=[\w-]{43}; Path=\/oauth; Max-Age=600; HttpOnly; SameSite=Lax$/);
    const authorize = new URL(first.headers.get('location')!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${h.discord.url}/oauth2/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({ client_id: h.discord.applicationId, scope: 'identify', response_type: 'code', redirect_uri: `${h.httpUrl()}/oauth/discord` });

    const other = await browserOf(user).open(authorize.toString());
    expect(other.status).toBe(400);
    expect(other.text).toContain('This sign-in was started in a different browser. Nothing was linked.');
    expect(await h.records.vault.get(user.id)).toBeUndefined();
  });

  it('cancelling on Discord links nothing', async () => {
    const user = h.discord.addMember({ username: 'cb-kim' });
    const xUser = h.x.addUser({ screenName: 'kim_x' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const { redirectUrl } = h.x.approve(requestTokenOf(await link.waitForReply()), xUser.id);
    h.discord.oauth2.decide('cancel');
    try {
      const page = await browserOf(user).open(redirectUrl!);
      expect(page.text).toContain('You did not sign in with Discord, so nothing was linked.');
    } finally {
      h.discord.oauth2.decide('authorize');
    }
    expect(await h.records.vault.get(user.id)).toBeUndefined();
  });

  it('confirms by DM when the link message can no longer be edited (the interaction token expired)', async () => {
    const user = h.discord.addMember({ username: 'cb-ivy' });
    const xUser = h.x.addUser({ screenName: 'ivy_x' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const { redirectUrl } = h.x.approve(requestTokenOf(await link.waitForReply()), xUser.id);
    const expired = h.discord.intercept((call) =>
      call.method === 'PATCH' && call.path.includes(`/webhooks/${h.discord.applicationId}/${link.token}/`) ? { status: 404, body: { message: 'Unknown Webhook', code: 10015 } } : undefined,
    );
    try {
      const browser = browserOf(user);
      expect((await browser.submit(await browser.open(redirectUrl!))).status).toBe(200);
      const dm = await h.discord.waitForDm(user.id);
      expect(dm.message.content).toBe(linkedText('ivy_x'));
      expect(await h.records.vault.get(user.id)).toMatchObject({ xUserId: xUser.id, status: 'active' });
    } finally {
      expired();
    }
  });

  it("another Discord user cannot complete someone's pending link with their request token", async () => {
    const alice = h.discord.addMember({ username: 'cb-hana' });
    const mallory = h.discord.addMember({ username: 'cb-mallory' });
    const xUser = h.x.addUser({ screenName: 'hana_x' });

    const link = await h.discord.slash(alice, { name: 'twitter', subcommand: 'link' });
    await link.waitForReply();
    const usePin = await link.click('twitter:use-pin:');
    const pinPrompt = await usePin.waitForReply((message) => message.content.includes('Enter PIN'));
    expect(buttonsOf(pinPrompt).map((button) => button.label)).toEqual(['Authorise on X', 'Enter PIN']);
    const requestToken = requestTokenOf(pinPrompt);
    expect(customIdOf(pinPrompt, 'twitter:pin:')).toBe(`twitter:pin:${requestToken}`);
    const { verifier } = h.x.approve(requestToken, xUser.id);

    // Mallory submits the PIN modal for Alice's request token (with the right PIN, even).
    const click = await usePin.click(`twitter:pin:${requestToken}`);
    const stolen = await click.submitModal({ pin: verifier }, mallory);
    const refused = await stolen.waitForReply();
    expect(stolen.user.id).toBe(mallory.id);
    expect(refused.content).toBe('That sign-in link was started by someone else. Run /twitter link to get your own.');
    expect(stolen.ephemeral).toBe(true);
    expect(await h.records.vault.get(mallory.id)).toBeUndefined();
    expect(await h.records.vault.get(alice.id)).toBeUndefined();
    expect(h.x.requests.filter((request) => request.path === X_PATHS.accessToken && request.oauthParams?.oauth_token === requestToken)).toEqual([]);

    // Alice's pending link is untouched: her own submission completes it.
    const own = await click.submitModal({ pin: verifier });
    expect((await own.waitForReply()).content).toBe(linkedText('hana_x'));
    expect(await h.records.vault.get(alice.id)).toMatchObject({ xUserId: xUser.id });
    expect(await h.records.vault.get(mallory.id)).toBeUndefined();
  });
});

describe('PUBLIC_URL without DISCORD_CLIENT_SECRET', () => {
  const h = useHarness({ callbackFlow: true, env: { DISCORD_CLIENT_SECRET: '' } });

  it('offers the PIN flow only, says so at start-up, and serves no callback', async () => {
    const user = h.discord.addMember({ username: 'nosecret-lee' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const prompt = await link.waitForReply();
    expect(buttonsOf(prompt).map((button) => button.label)).toEqual(['Authorise on X', 'Enter PIN']);
    expect(h.x.requests.filter((request) => request.path === X_PATHS.requestToken).at(-1)?.oauthParams?.oauth_callback).toBe('oob');
    expect(h.logs.some((line) => line.includes('PUBLIC_URL is set but DISCORD_CLIENT_SECRET is not: linking is PIN only'))).toBe(true);
    expect(h.logs.find((line) => line.includes('"msg":"bot ready"'))).toContain('"linking":"PIN only"');
    expect((await fetch(`${h.httpUrl()}/oauth/callback?oauth_token=a&oauth_verifier=b`)).status).toBe(404);
  });
});
