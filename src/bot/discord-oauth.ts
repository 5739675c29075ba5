/**
 * Discord's OAuth2 authorization-code grant with the `identify` scope: the callback flow of linking uses
 * it to learn which Discord account the browser belongs to. The URLs hang off DISCORD_API_URL (its origin
 * for the authorize page, as discord.com serves it outside /api), so the test server answers them too.
 *
 * Each request has a whole-request deadline, never follows a redirect, and reads at most 64 KB.
 */
import { request } from 'undici';
import { UserFacingError } from '../errors.js';

export const DISCORD_SIGN_IN_ERROR_KINDS = ['discord-refused', 'discord-unavailable'] as const;
export class DiscordSignInError extends UserFacingError<(typeof DISCORD_SIGN_IN_ERROR_KINDS)[number]> {}

export interface DiscordIdentity {
  id: string;
  username: string;
  globalName: string | null;
}

export interface DiscordOAuth {
  /** Where to send the browser: Discord asks the person to sign in and approve `identify`. */
  authorizeUrl(state: string): string;
  /** Exchange the code Discord sent back for the identity of whoever approved it. */
  identify(code: string): Promise<DiscordIdentity>;
}

export interface DiscordOAuthOptions {
  /** DISCORD_API_URL, `https://discord.com/api`. */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  timeoutMs?: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

const unavailable = (detail: string) =>
  new DiscordSignInError('discord-unavailable', {}, { detail });

async function readJson(body: AsyncIterable<Buffer>): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) throw unavailable('the response is too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw unavailable('the response is not JSON');
  }
}

export function createDiscordOAuth(options: DiscordOAuthOptions): DiscordOAuth {
  const api = options.apiUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function call(url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }): Promise<{ status: number; json: unknown }> {
    try {
      const response = await request(url, { ...init, signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      return { status: response.statusCode, json: await readJson(response.body) };
    } catch (error) {
      if (error instanceof DiscordSignInError) throw error;
      throw unavailable(error instanceof Error ? error.name : 'network error');
    }
  }

  return {
    authorizeUrl(state) {
      const query = new URLSearchParams({ response_type: 'code', client_id: options.clientId, scope: 'identify', redirect_uri: options.redirectUri, state, prompt: 'consent' });
      return `${new URL(api).origin}/oauth2/authorize?${query}`;
    },

    async identify(code) {
      const grant = await call(`${api}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: options.redirectUri, client_id: options.clientId, client_secret: options.clientSecret }).toString(),
      });
      const accessToken = (grant.json as { access_token?: unknown } | null)?.access_token;
      if (grant.status >= 500) throw unavailable(`token endpoint answered ${grant.status}`);
      if (grant.status !== 200 || typeof accessToken !== 'string') {
        throw new DiscordSignInError('discord-refused', {}, { detail: `token endpoint answered ${grant.status}` });
      }
      const me = await call(`${api}/v10/users/@me`, { method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
      const user = me.json as { id?: unknown; username?: unknown; global_name?: unknown } | null;
      if (me.status !== 200 || typeof user?.id !== 'string' || !/^\d{15,21}$/.test(user.id) || typeof user.username !== 'string') {
        throw unavailable(`users/@me answered ${me.status}`);
      }
      return { id: user.id, username: user.username.slice(0, 64), globalName: typeof user.global_name === 'string' ? user.global_name.slice(0, 64) : null };
    },
  };
}
