/**
 * Discord's OAuth2 authorization-code grant, as the Discord-compatible server serves it: the authorize
 * page (GET /oauth2/authorize, outside /api as on discord.com), the token endpoint
 * (POST /api/oauth2/token, form body) and who the Bearer token belongs to (GET /api/v10/users/@me).
 *
 * A browser is "signed in to Discord" when it carries the cookie `signIn(user)` returns. The authorize
 * page then acts as if that person pressed Authorise (or Cancel, with `decide`), and redirects to the
 * registered redirect_uri with a code valid for 10 minutes, once, for that redirect_uri. The token
 * endpoint checks client_id and client_secret (body or Basic), grant_type, the code and redirect_uri,
 * with Discord's error bodies.
 */
import { randomBytes } from 'node:crypto';

export interface OAuth2Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface OAuth2Grant {
  userId: string;
  code: string;
  redirectUri: string;
  state: string | null;
  exchanged: boolean;
  accessToken?: string;
}

const SESSION_COOKIE = 'discord_session';
const CODE_TTL_MS = 10 * 60_000;

export class DiscordOAuth2 {
  readonly clientSecret = randomBytes(24).toString('base64url');
  /** Every code the authorize page issued, in order. */
  readonly grants: OAuth2Grant[] = [];
  private readonly redirectUris = new Set<string>();
  private readonly sessions = new Map<string, string>(); // cookie value -> user id
  private readonly codes = new Map<string, OAuth2Grant & { expiresAt: number }>();
  private readonly tokens = new Map<string, string>(); // access token -> user id
  private decision: 'authorize' | 'cancel' = 'authorize';

  constructor(
    private readonly applicationId: string,
    private readonly userExists: (id: string) => boolean,
  ) {}

  /** Redirect URIs must be registered in the Developer Portal (OAuth2 > Redirects). */
  addRedirectUri(uri: string): void {
    this.redirectUris.add(uri);
  }

  /** The cookie a browser signed in to Discord as `userId` carries on the Discord server's origin. */
  signIn(userId: string): { name: string; value: string } {
    const value = randomBytes(16).toString('base64url');
    this.sessions.set(value, userId);
    return { name: SESSION_COOKIE, value };
  }

  /** What the signed-in person does on the authorize page (default: authorise). */
  decide(decision: 'authorize' | 'cancel'): void {
    this.decision = decision;
  }

  authorize(query: URLSearchParams, cookieHeader: string | undefined): OAuth2Reply {
    const page = (status: number, text: string): OAuth2Reply => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text });
    if (query.get('client_id') !== this.applicationId) return page(400, 'Unknown application');
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!this.redirectUris.has(redirectUri)) return page(400, 'Invalid OAuth2 redirect_uri');
    if (query.get('response_type') !== 'code') return page(400, 'Invalid response_type');
    const scopes = (query.get('scope') ?? '').split(/[ +]/).filter(Boolean);
    if (!scopes.includes('identify')) return page(400, 'Invalid scope');
    const session = (cookieHeader ?? '').split(';').map((part) => part.trim().split('=')).find(([name]) => name === SESSION_COOKIE)?.[1];
    const userId = session ? this.sessions.get(session) : undefined;
    if (!userId) return page(401, 'Log in to Discord to continue');
    const state = query.get('state');
    const target = new URL(redirectUri);
    if (this.decision === 'cancel') {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'The resource owner or authorization server denied the request');
    } else {
      const code = randomBytes(20).toString('base64url');
      const grant = { userId, code, redirectUri, state, exchanged: false };
      this.grants.push(grant);
      this.codes.set(code, { ...grant, expiresAt: Date.now() + CODE_TTL_MS });
      target.searchParams.set('code', code);
    }
    if (state !== null) target.searchParams.set('state', state);
    return { status: 302, headers: { location: target.toString() } };
  }

  token(body: unknown, authorization: string | undefined): OAuth2Reply {
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    let clientId = form.client_id;
    let clientSecret = form.client_secret;
    if (authorization?.startsWith('Basic ')) [clientId, clientSecret] = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':');
    if (clientId !== this.applicationId || clientSecret !== this.clientSecret) return { status: 401, body: { error: 'invalid_client' } };
    if (form.grant_type !== 'authorization_code') return { status: 400, body: { error: 'unsupported_grant_type' } };
    const code = typeof form.code === 'string' ? this.codes.get(form.code) : undefined;
    // A code works once: Discord refuses it afterwards, as here.
    if (!code || code.exchanged || code.expiresAt < Date.now()) return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid "code" in request.' } };
    code.exchanged = true;
    const grant = this.grants.find((candidate) => candidate.code === code.code)!;
    grant.exchanged = true;
    if (form.redirect_uri !== code.redirectUri) return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid "redirect_uri" in request.' } };
    const accessToken = randomBytes(20).toString('base64url');
    grant.accessToken = accessToken;
    this.tokens.set(accessToken, code.userId);
    return { status: 200, body: { token_type: 'Bearer', access_token: accessToken, expires_in: 604_800, refresh_token: randomBytes(20).toString('base64url'), scope: 'identify' } };
  }

  /** The user a `Bearer` token was issued to, or undefined. */
  bearerUser(authorization: string | undefined): string | undefined {
    if (!authorization?.startsWith('Bearer ')) return undefined;
    const userId = this.tokens.get(authorization.slice(7));
    return userId && this.userExists(userId) ? userId : undefined;
  }
}
