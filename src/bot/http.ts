/**
 * The bot's HTTP endpoints: GET /healthz (gateway connected, store reachable) and GET /oauth/callback
 * (the callback flow of linking, when PUBLIC_URL is set).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LinkReplyTarget } from '../account-links.js';
import { UserFacingError } from '../errors.js';
import type { Services } from '../services.js';

export interface HttpServer {
  listening: Promise<void>;
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  services: Services;
  port: number;
  gatewayReady(): boolean;
  confirmLink(linked: { discordUserId: string; screenName: string; replyTarget?: LinkReplyTarget }): Promise<void>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(response: ServerResponse, status: number, title: string, text: string): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  response.end(`<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`);
}

export function startHttpServer(options: HttpServerOptions): HttpServer {
  const { services } = options;
  const log = services.logger.child({ component: 'http' });

  async function healthz(response: ServerResponse): Promise<void> {
    const gateway = options.gatewayReady();
    let store = true;
    try {
      await services.store.ping();
    } catch {
      store = false;
    }
    response.writeHead(gateway && store ? 200 : 503, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ status: gateway && store ? 'ok' : 'unhealthy', gateway: gateway ? 'ready' : 'not-ready', store: store ? 'ok' : 'unreachable' }));
  }

  async function callback(url: URL, response: ServerResponse): Promise<void> {
    const token = url.searchParams.get('oauth_token');
    const verifier = url.searchParams.get('oauth_verifier');
    if (url.searchParams.has('denied')) return page(response, 200, 'Not linked', 'You declined on X, so nothing was linked. You can close this tab.');
    if (!token || !verifier) return page(response, 400, 'Not linked', 'This page needs the oauth_token and oauth_verifier that X adds. Run /twitter link again.');
    try {
      const linked = await services.links.completeCallback(token, verifier);
      await options.confirmLink({ discordUserId: linked.discordUserId, screenName: linked.account.screenName, ...(linked.replyTarget ? { replyTarget: linked.replyTarget } : {}) }).catch((error: unknown) =>
        log.warn({ err: error }, 'could not confirm the link in Discord'),
      );
      page(response, 200, `Linked @${linked.account.screenName}`, 'Your X account is linked to avatar-bot. You can close this tab and go back to Discord.');
    } catch (error) {
      if (error instanceof UserFacingError) return page(response, 400, 'Not linked', error.userMessage);
      log.error({ err: error }, 'oauth callback failed');
      page(response, 500, 'Not linked', 'Something went wrong on our side and it has been logged. Run /twitter link again.');
    }
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const route = `${request.method} ${url.pathname}`;
    const done = route === 'GET /healthz' ? healthz(response) : route === 'GET /oauth/callback' ? callback(url, response) : Promise.resolve(page(response, 404, 'Not found', 'Nothing here.'));
    done.catch((error: unknown) => {
      log.error({ err: error }, 'http handler failed');
      if (!response.headersSent) response.writeHead(500).end();
    });
  });

  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => resolve());
  });

  return {
    listening,
    get port() {
      return (server.address() as AddressInfo | null)?.port ?? options.port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
