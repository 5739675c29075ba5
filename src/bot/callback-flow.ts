/**
 * The browser side of the callback flow of linking. X sends the browser to /oauth/callback; that alone
 * links nothing, because whoever holds an "Authorise on X" link can send it to someone else. Instead:
 *
 *   GET  /oauth/callback  keeps X's verifier with the pending link (once), sets a browser cookie and sends
 *                         the browser to Discord's OAuth2 authorize page (scope identify, a single-use state)
 *   GET  /oauth/discord   back from Discord, in the same browser: exchanges the code and asks Discord who
 *                         signed in. Someone other than the user who ran /twitter link: the pending link is
 *                         dropped and the page says why. The right user: a page naming that Discord account
 *                         with a button (a POST carrying a single-use token)
 *   POST /oauth/confirm   completes the link
 *
 * The sign-in records (which browser, which Discord user) are the links use case's (accounts/browser-sign-ins.ts);
 * this module only speaks HTTP and Discord OAuth2.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Services } from '../services.js';
import { UserFacingError } from '../errors.js';
import { createDiscordOAuth, type DiscordIdentity } from './discord-oauth.js';
import type { HttpServerOptions, RouteHandler } from './http.js';
import { errorWords } from '../i18n/render-error.js';
import type { Locale } from '../i18n/locale.js';
import { SIGN_IN_TTL_MS } from '../accounts/browser-sign-ins.js';
import { t } from '../i18n/t.js';
import { escapeHtml, localeOfRequest, page, PAGE_HEADERS } from './pages.js';

const COOKIE = 'avatar_bot_link';
/** The confirm form carries one 43-character token. */
const MAX_FORM_BYTES = 1024;
/** X's tokens and verifiers, Discord's codes and our own tokens are well under this. */
const MAX_PARAM_LENGTH = 256;

function cookieOf(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

/** The browser's cookie, when it is one of ours in length. */
function browserOf(request: IncomingMessage): string | undefined {
  const cookie = cookieOf(request);
  return cookie && cookie.length <= MAX_PARAM_LENGTH ? cookie : undefined;
}

function param(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name);
  return value && value.length <= MAX_PARAM_LENGTH ? value : undefined;
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams | 'too-large' | 'not-a-form' | 'aborted'> {
  if (!(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) return 'not-a-form';
  if (Number(request.headers['content-length'] ?? 0) > MAX_FORM_BYTES) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) return 'too-large';
      chunks.push(chunk);
    }
  } catch {
    return 'aborted'; // the client went away or sent a broken body: nobody to answer
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function describeAccount(who: DiscordIdentity): string {
  return who.globalName && who.globalName !== who.username ? `${who.globalName} (@${who.username}, id ${who.id})` : `@${who.username} (id ${who.id})`;
}

/** A page that says nothing was linked, in the browser's language. */
const notLinked = (response: ServerResponse, lang: Locale, status: number, text: string, headers?: Record<string, string>) =>
  page(response, status, t(lang, 'twitter.page.not-linked'), text, { lang, ...(headers ? { headers } : {}) });

export function createCallbackFlow(deps: { services: Services; log: Logger; confirmLink: HttpServerOptions['confirmLink'] }): Record<string, Record<string, RouteHandler>> {
  const { services, log } = deps;
  const { config, links } = services;
  const publicUrl = config.publicUrl!;
  const oauth = createDiscordOAuth({ apiUrl: config.discordApiUrl, clientId: config.discordApplicationId!, clientSecret: config.discordClientSecret!, redirectUri: `${publicUrl}/oauth/discord` });
  const cookiePath = `${new URL(publicUrl).pathname.replace(/\/+$/, '')}/oauth`;
  const secure = publicUrl.startsWith('https:') ? '; Secure' : '';

  async function fromX(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const lang = localeOfRequest(request);
    if (url.searchParams.has('denied')) return notLinked(response, lang, 200, t(lang, 'twitter.page.denied'));
    const requestToken = param(url, 'oauth_token');
    const verifier = param(url, 'oauth_verifier');
    if (!requestToken || !verifier) return notLinked(response, lang, 400, t(lang, 'twitter.page.missing-params'));
    let state: string;
    let cookie: string;
    try {
      ({ token: state, cookie } = await links.acceptCallback(requestToken, verifier));
    } catch (error) {
      if (error instanceof UserFacingError) return notLinked(response, lang, 400, errorWords(error, lang, 'bot'));
      throw error;
    }
    const location = oauth.authorizeUrl(state);
    response.writeHead(302, {
      ...PAGE_HEADERS,
      location,
      'set-cookie': `${COOKIE}=${cookie}; Path=${cookiePath}; Max-Age=${SIGN_IN_TTL_MS / 1000}; HttpOnly; SameSite=Lax${secure}`,
    });
    const signIn = escapeHtml(t(lang, 'twitter.page.sign-in'));
    const link = `<a href="${escapeHtml(location)}">${signIn}</a>`;
    response.end(`<!doctype html><html lang="${lang}"><meta charset="utf-8"><title>${signIn}</title><p>${escapeHtml(t(lang, 'twitter.page.sign-in-text', { link: '\u0000' })).replace('\u0000', link)}</p>`);
  }

  async function fromDiscord(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const lang = localeOfRequest(request);
    const state = param(url, 'state');
    const signIn = state ? await links.takeSignIn(state, 'discord', browserOf(request)) : 'expired';
    if (signIn === 'expired') return notLinked(response, lang, 400, t(lang, 'twitter.page.expired'));
    if (signIn === 'other-browser') return notLinked(response, lang, 400, t(lang, 'twitter.page.other-browser'));
    const code = param(url, 'code');
    if (!code) {
      await links.cancelSignIn(signIn);
      return notLinked(response, lang, 200, t(lang, 'twitter.page.no-discord'));
    }
    let proven: DiscordIdentity;
    try {
      proven = await oauth.identify(code);
    } catch (error) {
      if (!(error instanceof UserFacingError)) throw error;
      log.warn({ err: error }, 'discord sign-in failed');
      await links.cancelSignIn(signIn);
      return notLinked(response, lang, error.kind === 'discord-unavailable' ? 502 : 400, errorWords(error, lang, 'bot'));
    }
    if (proven.id !== signIn.discordUserId) {
      await links.cancelSignIn(signIn);
      log.warn({ startedBy: signIn.discordUserId, signedIn: proven.id }, 'a callback link was opened by a different Discord account; dropped');
      return notLinked(response, lang, 403, t(lang, 'twitter.page.wrong-account', { account: describeAccount(proven) }));
    }
    const confirm = await links.proveSignIn(signIn, proven);
    page(response, 200, t(lang, 'twitter.link.modal-title'), t(lang, 'twitter.page.confirm', { account: describeAccount(proven) }), {
      lang,
      html:
        `<form method="post" action="${escapeHtml(`${publicUrl}/oauth/confirm`)}"><input type="hidden" name="confirm" value="${escapeHtml(confirm)}">` +
        `<button type="submit">${escapeHtml(t(lang, 'twitter.page.confirm-button', { username: proven.username }))}</button></form><p>${escapeHtml(t(lang, 'twitter.page.not-you'))}</p>`,
    });
  }

  async function confirmLink(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const lang = localeOfRequest(request);
    const form = await readForm(request);
    if (form === 'aborted') return void response.destroy();
    if (form === 'too-large') return notLinked(response, lang, 413, t(lang, 'twitter.page.too-large'), { connection: 'close' });
    if (form === 'not-a-form') return notLinked(response, lang, 415, t(lang, 'twitter.page.not-a-form'));
    const confirm = form.get('confirm');
    const signIn = confirm && confirm.length <= MAX_PARAM_LENGTH ? await links.takeSignIn(confirm, 'confirm', browserOf(request)) : 'expired';
    if (signIn === 'other-browser') return notLinked(response, lang, 400, t(lang, 'twitter.page.other-browser-short'));
    const proven = signIn === 'expired' ? undefined : signIn.proven; // a confirm-stage sign-in always has one
    if (signIn === 'expired' || !proven) return notLinked(response, lang, 400, t(lang, 'twitter.page.expired'));
    try {
      const linked = await links.completeSignIn(signIn);
      await deps
        .confirmLink({ discordUserId: linked.discordUserId, screenName: linked.account.screenName, ...(linked.replyTarget ? { replyTarget: linked.replyTarget } : {}) })
        .catch((error: unknown) => log.warn({ err: error }, 'could not confirm the link in Discord'));
      const screenName = linked.account.screenName;
      page(response, 200, t(lang, 'twitter.page.linked-title', { screenName }), t(lang, 'twitter.page.linked', { screenName, account: describeAccount(proven) }), {
        lang,
        headers: { 'set-cookie': `${COOKIE}=; Path=${cookiePath}; Max-Age=0; HttpOnly; SameSite=Lax${secure}` },
      });
    } catch (error) {
      if (error instanceof UserFacingError) return notLinked(response, lang, 400, errorWords(error, lang, 'bot'));
      throw error;
    }
  }

  return {
    '/oauth/callback': { GET: fromX },
    '/oauth/discord': { GET: fromDiscord },
    '/oauth/confirm': { POST: confirmLink },
  };
}
