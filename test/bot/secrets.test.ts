/**
 * After linking (both flows), avatar changes, failures and an unlink, no credential appears in the
 * bot's logs (every level, trace included) or in the SQLite file: tokens are sealed at rest and never
 * logged, and errors that carry one in a string (a DiscordAPIError's url holds the interaction token)
 * are redacted by value.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { TestUser } from '../support/discord-server.js';
import { X_PATHS, xErrorBody, xFaults } from '../support/x-server.js';
import { Browser } from '../support/browser.js';
import { avatarCommand, customIdOf, fixture, image, requestTokenOf, useHarness } from './helpers.js';

const h = useHarness({ callbackFlow: true, env: { LOG_LEVEL: 'trace' } });

/** Discord answers every edit of this interaction's messages with 404 Unknown Webhook (its token expired). */
const webhookGone = (token: string) =>
  h.discord.intercept((call) => (call.method === 'PATCH' && call.path.includes(`/webhooks/${h.discord.applicationId}/${token}/`) ? { status: 404, body: { message: 'Unknown Webhook', code: 10015 } } : undefined));

it('no token, secret, PIN or key appears in the logs or the store', async () => {
  const secrets = new Map<string, string>(); // value -> what it is
  const remember = (what: string, value: string | undefined) => {
    expect(value, what).toBeTruthy();
    secrets.set(value!, what);
  };
  const rememberLink = async (user: TestUser) => {
    const link = await h.records.vault.get(user.id);
    remember(`${user.username}'s access token`, link?.token);
    remember(`${user.username}'s access token secret`, link?.secret);
  };

  // Callback flow, signing in with Discord; the link message cannot be edited any more (a DiscordAPIError
  // whose url holds the interaction token is logged), so the confirmation goes by DM.
  const ann = h.discord.addMember({ username: 'secret-ann' });
  const xAnn = h.x.addUser({ screenName: 'secret_ann' });
  const annLink = await h.discord.slash(ann, { name: 'twitter', subcommand: 'link' });
  const annRequestToken = requestTokenOf(await annLink.waitForReply());
  remember('the request token', annRequestToken);
  const approved = h.x.approve(annRequestToken, xAnn.id);
  remember('the callback verifier', approved.verifier);
  const browser = new Browser();
  const discordSession = h.discord.oauth2.signIn(ann.id);
  remember('the Discord session', discordSession.value);
  browser.setCookie(h.discord.url, discordSession);
  const question = await browser.open(approved.redirectUrl!);
  remember('the link cookie', browser.cookies(h.httpUrl()).get('avatar_bot_link'));
  remember('the confirm token', /name="confirm" value="([^"]+)"/.exec(question.text)?.[1]);
  // Mid-way (a pending link holding the verifier, a sign-in waiting for the confirm button), the store
  // files hold none of the flow's tokens: keys are not sealed, so a token must not be one.
  const midway = readdirSync(h.dataDir).map((name) => ({ name, bytes: readFileSync(join(h.dataDir, name)) }));
  expect(midway.some((file) => file.name === 'bot.sqlite')).toBe(true);
  for (const value of [annRequestToken, approved.verifier]) expect(midway.filter((file) => file.bytes.includes(value)).map((file) => file.name)).toEqual([]);
  const gone = webhookGone(annLink.token);
  expect((await browser.submit(question)).status).toBe(200);
  gone();
  await h.discord.waitForDm(ann.id);
  const grant = h.discord.oauth2.grants.at(-1)!;
  remember('the Discord OAuth2 code', grant.code);
  remember('the Discord OAuth2 state', grant.state ?? undefined);
  remember('the Discord OAuth2 access token', grant.accessToken);
  remember('the Discord client secret', h.discord.oauth2.clientSecret);
  await rememberLink(ann);

  // PIN flow, with a wrong PIN first.
  const ben = h.discord.addMember({ username: 'secret-ben' });
  const xBen = h.x.addUser({ screenName: 'secret_ben' });
  const benLink = await h.discord.slash(ben, { name: 'twitter', subcommand: 'link' });
  await benLink.waitForReply();
  const usePin = await benLink.click('twitter:use-pin:');
  const prompt = await usePin.waitForReply((message) => message.content.includes('Enter PIN'));
  const { verifier } = h.x.approve(requestTokenOf(prompt), xBen.id);
  const wrong = String((Number(verifier) + 1) % 10_000_000).padStart(7, '0');
  remember('the PIN', verifier);
  remember('the wrong PIN', wrong);
  const click = await usePin.click(customIdOf(prompt, 'twitter:pin:'));
  expect((await (await click.submitModal({ pin: wrong })).waitForReply()).content).toContain('X did not accept that PIN');
  expect((await (await click.submitModal({ pin: verifier })).waitForReply()).content).toBe('Linked @secret_ben. Use /avatar set to change your X avatar.');
  await rememberLink(ben);

  // Changes, a status, failures of several kinds.
  expect((await avatarCommand(h, ann, 'set', image('me.jpg', fixture('flowers.jpeg')))).reply.embeds[0]?.title).toBe('Avatar updated');
  expect((await (await h.discord.slash(ann, { name: 'twitter', subcommand: 'status' })).waitForReply()).embeds[0]?.title).toBe('@secret_ann');
  h.x.fail({ path: X_PATHS.updateProfileImage, status: 401, body: xErrorBody(32) });
  expect((await avatarCommand(h, ann, 'set', image('me.jpg', fixture('concert.jpg')))).reply.content).toContain('X could not authenticate the bot');
  h.x.fail(xFaults.tokenRevoked(X_PATHS.verifyCredentials));
  expect((await avatarCommand(h, ben, 'set', image('me.jpg', fixture('concert.jpg')))).reply.content).toContain('was revoked');

  // A command whose reply cannot be written: the DiscordAPIError is logged at error, then at warn.
  const dora = h.discord.addMember({ username: 'secret-dora' });
  await h.linkUser(dora, 'secret_dora');
  const doraStatus = await h.discord.slash(dora, { name: 'twitter', subcommand: 'status' });
  const doraGone = webhookGone(doraStatus.token);
  await h.discord.waitFor(() => h.logs.some((line) => line.includes('"msg":"could not send the failure reply"')), 10_000, 'the failure to be logged');
  doraGone();

  // An unlink, which sends the token to X once more.
  const cat = h.discord.addMember({ username: 'secret-cat' });
  await h.linkUser(cat, 'secret_cat');
  await rememberLink(cat);
  const unlink = await h.discord.slash(cat, { name: 'twitter', subcommand: 'unlink' });
  const confirm = await unlink.click(customIdOf(await unlink.waitForReply(), 'twitter:unlink-confirm:'));
  expect((await confirm.waitForReply((message) => message.content.startsWith('Unlinked'))).content).toContain('access revoked at X');

  // Everything X issued, and every token the bot presented to it.
  for (const xUser of h.x.users.values()) {
    remember(`${xUser.screenName}'s first access token`, xUser.accessToken.token);
    remember(`${xUser.screenName}'s first access token secret`, xUser.accessToken.secret);
  }
  for (const request of h.x.requests) {
    if (request.path.startsWith('/1.1/') && request.oauthParams?.oauth_token) remember(`the token sent to ${request.path}`, request.oauthParams.oauth_token);
  }
  remember('the consumer secret', h.x.consumer.secret);
  remember('the encryption key', h.config.tokenEncryptionKey?.toString('base64'));
  remember('the Discord bot token', h.config.discordToken);
  for (const interaction of h.discord.interactions) remember(`the token of interaction ${interaction.id}`, interaction.token);
  expect(secrets.size).toBeGreaterThanOrEqual(30);

  const logs = h.logs.join('\n');
  expect(h.logs.length).toBeGreaterThan(20);
  expect(logs).toContain('"msg":"x request"');
  expect(logs).toContain('"msg":"X refused the bot"');
  // The flows that log a DiscordAPIError ran, at warn and error, and their url lost only the token.
  expect(logs).toContain('"msg":"could not edit the link message; sending a DM"');
  expect(logs).toContain('"msg":"command failed"');
  expect(logs).toContain(`/webhooks/${h.discord.applicationId}/[redacted]/messages/@original`);
  const levels = new Set(h.logs.map((line) => (JSON.parse(line) as { level: number }).level));
  for (const level of [20, 30, 40, 50]) expect(levels, `lines at level ${level}`).toContain(level);
  const files = readdirSync(h.dataDir).map((name) => ({ name, bytes: readFileSync(join(h.dataDir, name)) }));
  expect(files.map((file) => file.name)).toContain('bot.sqlite');
  // The search does find what is stored in the clear: record keys (store) and Discord ids (logs).
  // Screen names are sealed with the tokens since vault records v2.
  expect(files.some((file) => file.bytes.includes(`tokens:${ben.id}`))).toBe(true);
  expect(files.some((file) => file.bytes.includes('secret_ben'))).toBe(false);
  expect(logs).toContain(ben.id);

  const found: string[] = [];
  for (const [value, what] of secrets) {
    if (logs.includes(value)) found.push(`${what} in the logs`);
    for (const file of files) if (file.bytes.includes(value)) found.push(`${what} in ${file.name}`);
  }
  expect(found).toEqual([]);
});
