/**
 * REST routes: the HTTP entry, authentication, the route table (commands, users, guilds, channels, OAuth2).
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ApplicationCommandType, MessageFlags } from 'discord.js';
import type { Reply, UploadedFile } from './types.js';
import { type JsonObject, MAX_BODY_BYTES, apiError, asNumber, asObject, asString, invalidForm, parseMultipart, readBody, sendReply, snowflake } from './helpers.js';
import { type GuildState, type Handler, type MutableCall, type RequestContext, type Route, isStoredMessage } from './state.js';
import { validateCommand } from './validation.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class RoutesMethods {
  async onRequest(this: LocalDiscord, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const receivedAt = performance.now();
    try {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
        await this.onApiRequest(request, response, url, receivedAt);
      } else if (url.pathname === '/oauth2/authorize' && request.method === 'GET') {
        const reply = this.oauth2.authorize(url.searchParams, request.headers.cookie);
        response.writeHead(reply.status, reply.headers ?? {});
        response.end(typeof reply.body === 'string' ? reply.body : '');
      } else {
        this.onCdnRequest(request, response, url, receivedAt);
      }
    } catch (error) {
      this.log(`request failed: ${error instanceof Error ? error.stack : String(error)}`);
      if (!response.headersSent) {
        sendReply(response, { status: 500, body: { message: '500: Internal Server Error', code: 0 } });
      } else {
        response.destroy();
      }
    }
  }

  async onApiRequest(this: LocalDiscord, request: IncomingMessage, response: ServerResponse, url: URL, receivedAt: number): Promise<void> {
    const method = (request.method ?? 'GET').toUpperCase();
    let segments: string[] | undefined;
    try {
      segments = url.pathname.split('/').filter((segment) => segment !== '').map((segment) => decodeURIComponent(segment));
    } catch {
      segments = undefined;
    }
    const call: MutableCall = {
      method,
      path: segments ? `/${segments.join('/')}` : url.pathname,
      route: 'unknown',
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      body: undefined,
      files: [],
      receivedAt,
      status: 0,
      response: undefined,
      unexpected: false,
    };
    this.callLog.push(call);
    const raw = await readBody(request, MAX_BODY_BYTES);
    const reply = await this.handleApi(call, raw, segments, url.searchParams, request.headers['content-type'] ?? '');
    call.status = reply.status;
    call.response = reply.body;
    this.log(`${method} ${call.path} -> ${reply.status}`);
    sendReply(response, reply);
    this.waiters.notify();
  }

  async handleApi(
    this: LocalDiscord,
    call: MutableCall,
    raw: Buffer | 'too-large',
    segments: string[] | undefined,
    query: URLSearchParams,
    contentType: string,
  ): Promise<Reply> {
    if (raw === 'too-large') return apiError(413, 40005, 'Request entity too large');
    let body: unknown;
    const files: UploadedFile[] = [];
    if (contentType.toLowerCase().startsWith('multipart/form-data')) {
      const parts = parseMultipart(raw, contentType);
      if (!parts) return apiError(400, 50035, 'Invalid Form Body');
      for (const part of parts) {
        if (part.name === 'payload_json') {
          try {
            body = JSON.parse(part.data.toString('utf8'));
          } catch {
            return apiError(400, 50109, 'The request body contains invalid JSON.');
          }
        } else if (part.filename !== undefined) {
          files.push({
            field: part.name,
            name: part.filename,
            bytes: part.data,
            contentType: part.contentType ?? 'application/octet-stream',
          });
        }
      }
    } else if (contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    } else if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return apiError(400, 50109, 'The request body contains invalid JSON.');
      }
    }
    call.body = body;
    call.files = files;

    const [api, version, ...rest] = segments ?? [];
    // OAuth2's token endpoint is served without a version too (https://discord.com/api/oauth2/token).
    const match = api !== 'api' ? undefined : version === 'v10' ? this.matchRoute(call.method, rest) : version === 'oauth2' ? this.matchRoute(call.method, [version, ...rest]) : undefined;
    if (!match) {
      call.unexpected = true;
      for (const interceptor of this.interceptors) {
        const intercepted = interceptor(call);
        if (intercepted) return intercepted;
      }
      return apiError(404, 0, '404: Not Found');
    }
    call.route = match.route.name;
    for (const interceptor of this.interceptors) {
      const intercepted = interceptor(call);
      if (intercepted) return intercepted;
    }
    if (match.route.auth && call.headers.authorization !== `Bot ${this.botToken}`) {
      return apiError(401, 0, '401: Unauthorized');
    }
    return match.route.handler({ call, params: match.params, query, body, files });
  }

  matchRoute(this: LocalDiscord, method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let matched = true;
      route.segments.forEach((pattern, index) => {
        const actual = segments[index] ?? '';
        if (pattern.startsWith(':')) params[pattern.slice(1)] = actual;
        else if (pattern !== actual) matched = false;
      });
      if (matched) return { route, params };
    }
    return undefined;
  }

  route(this: LocalDiscord, method: string, path: string, handler: Handler, options: { auth?: boolean } = {}): void {
    this.routes.push({
      method,
      segments: path.split('/').filter((segment) => segment !== ''),
      name: `${method} ${path}`,
      auth: options.auth ?? true,
      handler,
    });
  }

  defineRoutes(this: LocalDiscord): void {
    const gateway = (): Reply => ({ status: 200, body: { url: this.gatewayUrl } });
    this.route('GET', '/gateway', gateway, { auth: false });
    this.route('GET', '/gateway/bot', () => ({
      status: 200,
      body: {
        url: this.gatewayUrl,
        shards: this.shardCount,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: this.maxConcurrency },
      },
    }));
    // The bot's own user with the bot token; with an OAuth2 Bearer token, the user who authorised it.
    this.route(
      'GET',
      '/users/@me',
      ({ call }) => {
        if (call.headers.authorization === `Bot ${this.botToken}`) {
          return { status: 200, body: { ...this.userWire(this.botUser), verified: true, mfa_enabled: false, locale: 'en-US' } };
        }
        const userId = this.oauth2.bearerUser(call.headers.authorization);
        const user = userId ? this.users.get(userId) : undefined;
        return user ? { status: 200, body: { ...this.userWire(user), mfa_enabled: false, locale: 'en-US' } } : apiError(401, 0, '401: Unauthorized');
      },
      { auth: false },
    );
    this.route('POST', '/oauth2/token', ({ call, body }) => this.oauth2.token(body, call.headers.authorization) as Reply, { auth: false });
    const application = (): Reply => ({ status: 200, body: this.applicationWire() });
    this.route('GET', '/applications/@me', application);
    this.route('GET', '/oauth2/applications/@me', application);
    this.route('POST', '/users/@me/channels', ({ body }) => {
      const recipientId = asString(asObject(body)?.recipient_id);
      if (!recipientId || !this.users.has(recipientId)) return apiError(400, 50033, 'Invalid Recipient(s)');
      return { status: 200, body: this.channelWire(this.dmChannelFor(recipientId)) };
    });
    this.route('GET', '/users/:user', ({ params }) => {
      const user = this.users.get(params.user ?? '');
      return user ? { status: 200, body: this.userWire(user) } : apiError(404, 10013, 'Unknown User');
    });

    // Commands
    for (const scope of ['global', 'guild'] as const) {
      const base = scope === 'global' ? '/applications/:app/commands' : '/applications/:app/guilds/:guild/commands';
      const scopeKey = (params: Record<string, string>): string | Reply => {
        if (params.app !== this.applicationId) {
          return apiError(403, 20012, 'You are not authorized to perform this action on this application');
        }
        if (scope === 'guild' && !this.guilds.has(params.guild ?? '')) return apiError(404, 10004, 'Unknown Guild');
        return scope === 'global' ? 'global' : (params.guild ?? '');
      };
      this.route('GET', base, ({ params }) => {
        const key = scopeKey(params);
        return typeof key === 'string' ? { status: 200, body: this.commandScopes.get(key) ?? [] } : key;
      });
      this.route('PUT', base, ({ params, body }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        if (!Array.isArray(body)) return invalidForm('_root', 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
        const previous = this.commandScopes.get(key) ?? [];
        const stored: JsonObject[] = [];
        for (const [index, entry] of body.entries()) {
          const invalid = validateCommand(entry, `${index}`);
          if (invalid) return invalid;
          stored.push(this.storedCommand(entry as JsonObject, previous, key));
        }
        const names = stored.map((command) => `${String(command.type)}:${String(command.name)}`);
        if (new Set(names).size !== names.length) {
          return invalidForm('_root', 'APPLICATION_COMMANDS_DUPLICATE_NAME', 'Application command names must be unique');
        }
        this.commandScopes.set(key, stored);
        return { status: 200, body: stored };
      });
      this.route('POST', base, ({ params, body }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        const invalid = validateCommand(body, '_root');
        if (invalid) return invalid;
        const previous = this.commandScopes.get(key) ?? [];
        const command = this.storedCommand(body as JsonObject, previous, key);
        const existing = previous.findIndex((candidate) => candidate.id === command.id);
        const next = [...previous];
        if (existing >= 0) next[existing] = command;
        else next.push(command);
        this.commandScopes.set(key, next);
        return { status: existing >= 0 ? 200 : 201, body: command };
      });
      this.route('GET', `${base}/:command`, ({ params }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        const command = this.commandScopes.get(key)?.find((candidate) => candidate.id === params.command);
        return command ? { status: 200, body: command } : apiError(404, 10063, 'Unknown application command');
      });
      this.route('DELETE', `${base}/:command`, ({ params }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        const commands = this.commandScopes.get(key) ?? [];
        if (!commands.some((candidate) => candidate.id === params.command)) return apiError(404, 10063, 'Unknown application command');
        this.commandScopes.set(key, commands.filter((candidate) => candidate.id !== params.command));
        return { status: 204 };
      });
    }

    // Interaction callbacks and the interaction webhook: authenticated by the token in the path.
    this.route('POST', '/interactions/:id/:token/callback', (context) => this.onCallback(context), { auth: false });
    this.route('POST', '/webhooks/:app/:token', (context) => this.onFollowUp(context), { auth: false });
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      this.route(method, '/webhooks/:app/:token/messages/:message', (context) => this.onWebhookMessage(method, context), {
        auth: false,
      });
    }

    // Channels
    this.route('GET', '/channels/:channel', ({ params }) => {
      const channel = this.channelById(params.channel ?? '');
      if (channel?.guildId && !this.requireGuild(channel.guildId).members.has(this.botUser.id)) return apiError(403, 50001, 'Missing Access');
      if (channel?.recipientIds) return apiError(403, 50001, 'Missing Access'); // another DM or a group DM: the bot is not in it
      return channel ? { status: 200, body: this.channelWire(channel) } : apiError(404, 10003, 'Unknown Channel');
    });
    this.route('DELETE', '/channels/:channel', ({ params }) => {
      const channel = this.channelById(params.channel ?? '');
      if (!channel) return apiError(404, 10003, 'Unknown Channel');
      if (channel.guildId !== null) return apiError(403, 50013, 'Missing Permissions');
      return { status: 200, body: this.channelWire(channel) };
    });
    this.route('POST', '/channels/:channel/typing', ({ params }) => {
      const channel = this.channelById(params.channel ?? '');
      if (channel?.recipientIds) return apiError(403, 50001, 'Missing Access');
      return channel ? { status: 204 } : apiError(404, 10003, 'Unknown Channel');
    });
    this.route('POST', '/channels/:channel/messages', (context) => this.onChannelPost(context));
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      this.route(method, '/channels/:channel/messages/:message', ({ params, body, files }) => {
        const stored = this.storedMessages.get(params.message ?? '');
        const channel = this.channelById(params.channel ?? '');
        if (!channel) return apiError(404, 10003, 'Unknown Channel');
        if (channel.recipientIds) return apiError(403, 50001, 'Missing Access');
        if (!stored || stored.deleted || stored.channelId !== params.channel || (asNumber(stored.wire.flags) ?? 0) & MessageFlags.Ephemeral) {
          return apiError(404, 10008, 'Unknown Message');
        }
        if (method === 'GET') return { status: 200, body: stored.wire };
        if (method === 'DELETE') {
          stored.deleted = true;
          return { status: 204 };
        }
        const next = this.composeMessage({ channelId: stored.channelId, body, uploads: files, base: stored });
        if (!isStoredMessage(next)) return next;
        this.storeMessage(next);
        return { status: 200, body: next.wire };
      });
    }

    // Guilds
    const guildRoute = (path: string, handler: (guild: GuildState, context: RequestContext) => Reply): void => {
      this.route('GET', path, (context) => {
        const guild = this.guilds.get(context.params.guild ?? '');
        if (guild && !guild.members.has(this.botUser.id)) return apiError(403, 50001, 'Missing Access');
        return guild ? handler(guild, context) : apiError(404, 10004, 'Unknown Guild');
      });
    };
    guildRoute('/guilds/:guild', (guild, { query }) => ({
      status: 200,
      body: {
        ...this.guildWire(guild),
        ...(query.get('with_counts') === 'true'
          ? { approximate_member_count: guild.members.size, approximate_presence_count: 0 }
          : {}),
      },
    }));
    guildRoute('/guilds/:guild/channels', (guild) => ({
      status: 200,
      body: [...guild.channels.values()].map((channel) => this.channelWire(channel)),
    }));
    guildRoute('/guilds/:guild/roles', (guild) => ({
      status: 200,
      body: [...guild.roles.values()].map((role) => this.roleWire(role)),
    }));
    guildRoute('/guilds/:guild/members', (guild, { query }) => {
      const limit = Number(query.get('limit') ?? '1');
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        return invalidForm('limit', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 1000.');
      }
      const after = BigInt(/^\d+$/.test(query.get('after') ?? '') ? (query.get('after') ?? '0') : '0');
      const members = [...guild.members.values()]
        .filter((member) => BigInt(member.userId) > after)
        .sort((left, right) => (BigInt(left.userId) < BigInt(right.userId) ? -1 : 1))
        .slice(0, limit);
      return { status: 200, body: members.map((member) => this.memberWire(guild, member)) };
    });
    guildRoute('/guilds/:guild/members/search', (guild, { query }) => {
      const search = (query.get('query') ?? '').toLowerCase();
      const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? '1') || 1));
      const members = [...guild.members.values()]
        .filter((member) => {
          const user = this.users.get(member.userId);
          return (user?.username.toLowerCase().startsWith(search) ?? false) || (member.nick?.toLowerCase().startsWith(search) ?? false);
        })
        .slice(0, limit);
      return { status: 200, body: members.map((member) => this.memberWire(guild, member)) };
    });
    guildRoute('/guilds/:guild/members/:user', (guild, { params }) => {
      const member = guild.members.get(params.user ?? '');
      return member ? { status: 200, body: this.memberWire(guild, member) } : apiError(404, 10007, 'Unknown Member');
    });
  }

  applicationWire(this: LocalDiscord): JsonObject {
    return {
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: randomBytes(32).toString('hex'),
      flags: 0,
      owner: this.userWire(this.ownerUser),
      team: null,
      bot: this.userWire(this.botUser),
      approximate_guild_count: this.guilds.size,
      tags: [],
      install_params: { scopes: ['bot', 'applications.commands'], permissions: '0' },
      integration_types_config: { '0': {}, '1': {} },
    };
  }

  storedCommand(this: LocalDiscord, body: JsonObject, previous: JsonObject[], scope: string): JsonObject {
    const type = asNumber(body.type) ?? ApplicationCommandType.ChatInput;
    const same = previous.find((command) => command.name === body.name && command.type === type);
    return {
      type,
      description: '',
      options: [],
      default_member_permissions: null,
      dm_permission: true,
      contexts: null,
      integration_types: [0],
      nsfw: false,
      name_localizations: null,
      description_localizations: null,
      ...body,
      id: asString(body.id) ?? asString(same?.id) ?? snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      ...(scope === 'global' ? {} : { guild_id: scope }),
    };
  }
}
