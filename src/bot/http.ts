/**
 * The bot's HTTP server: GET|HEAD /healthz (gateway connected, store reachable), GET /metrics (Prometheus,
 * unless METRICS=off) and, when the callback flow is on, the browser side of linking (see callback-flow.ts).
 *
 * Anyone who can reach the port can send it anything, so nothing a request carries is trusted: only
 * origin-form targets ("/path?query") are routed, a URL is never built from anything else, malformed
 * requests get a 4xx or a closed socket, and headers, bodies and slow clients are bounded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { LinkReplyTarget } from '../accounts/links.js';
import type { Logger } from '../log.js';
import { callbackFlowEnabled } from '../config.js';
import type { Services } from '../services.js';
import { createCallbackFlow } from './callback-flow.js';
import { t } from '../i18n/t.js';
import { localeOfRequest, page } from './pages.js';

export interface HttpServer {
  listening: Promise<void>;
  readonly port: number;
  /** The address it is bound to (HTTP_HOST). */
  readonly address: string;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  services: Services;
  port: number;
  host: string;
  gatewayReady(): boolean;
  confirmLink(linked: { discordUserId: string; screenName: string; replyTarget?: LinkReplyTarget }): Promise<void>;
}

export type RouteHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<void> | void;

/** The longest request target routed; the longest real one (X's callback) is about 150 characters. */
const MAX_TARGET_LENGTH = 2048;
/**
 * How long one store probe may take, and how long its answer is reused (a flood of /healthz costs one probe
 * per interval). Together under 3 s: a store that stops answering turns /healthz into 503 within 2.5 s.
 */
const HEALTH_PROBE_DEADLINE_MS = 1500;
const HEALTH_CACHE_MS = 1000;
/**
 * How long one exposition of /metrics is reused: building it took 2.3 ms of CPU with every subcommand's
 * series (87 KB), so a flood of scrapes costs one a second; Prometheus scrapes every 15 to 60 s.
 */
const METRICS_CACHE_MS = 1000;

/** The request target as a URL, or undefined unless it is origin-form: one "/", printable ASCII, no backslash. */
export function originFormTarget(target: string | undefined): URL | undefined {
  if (target === undefined || target.length > MAX_TARGET_LENGTH || !/^\/(?![/\\])[\x21-\x7e]*$/.test(target) || target.includes('\\')) return undefined;
  try {
    const url = new URL(target, 'http://bot.invalid');
    return url.origin === 'http://bot.invalid' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The store half of /healthz: a read (never a write), at most one per HEALTH_CACHE_MS whatever the request
 * rate, and never longer than HEALTH_PROBE_DEADLINE_MS. While a probe hangs no second one starts.
 */
function createStoreProbe(read: () => Promise<unknown>, log: Logger): () => Promise<boolean> {
  let last: { ok: boolean; at: number } | undefined;
  let current: Promise<boolean> | undefined;
  let hung = false;
  return () => {
    if (last && performance.now() - last.at < HEALTH_CACHE_MS) return Promise.resolve(last.ok);
    if (current) return current;
    // The last probe passed its deadline and the store has still not answered it: do not pile up more.
    if (hung) return Promise.resolve(false);
    current = new Promise<boolean>((resolve) => {
      hung = true;
      const deadline = setTimeout(() => resolve(false), HEALTH_PROBE_DEADLINE_MS);
      deadline.unref();
      read()
        .then(
          () => resolve(true),
          (error: unknown) => {
            log.warn({ err: error }, 'store probe failed');
            resolve(false);
          },
        )
        .finally(() => {
        hung = false;
        clearTimeout(deadline);
      });
    }).then((ok) => {
      last = { ok, at: performance.now() };
      current = undefined;
      return ok;
    });
    return current;
  };
}

function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (socket.writable && error.code !== 'ECONNRESET') {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), 1000).unref();
  } else {
    socket.destroy();
  }
}

export function startHttpServer(options: HttpServerOptions): HttpServer {
  const { services } = options;
  const log = services.logger.child({ component: 'http' });
  const storeHealthy = createStoreProbe(() => services.pingStore(), log);

  /** The breaker as last read, re-read from the store at most every few seconds; a hung store is not waited for. */
  async function breakerState() {
    let timer: NodeJS.Timeout | undefined;
    const known = new Promise<ReturnType<Services['breaker']['known']>>((resolve) => (timer = setTimeout(() => resolve(services.breaker.known()), HEALTH_PROBE_DEADLINE_MS)));
    try {
      return await Promise.race([services.breaker.status(), known]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function healthz(_request: IncomingMessage, response: ServerResponse): Promise<void> {
    const gateway = options.gatewayReady();
    const [store, breaker] = await Promise.all([storeHealthy(), breakerState()]);
    // X refusing the app (issue 12): no write reaches X for anyone; the reason and the next probe, nothing secret.
    const x = breaker?.open ? { x: 'app-blocked', reason: breaker.reason, nextProbeAt: new Date(breaker.nextProbeAt).toISOString() } : {};
    const healthy = gateway && store && !breaker?.open;
    const body = JSON.stringify({ status: healthy ? 'ok' : 'unhealthy', gateway: gateway ? 'ready' : 'not-ready', store: store ? 'ok' : 'unreachable', ...x });
    response.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  }

  let exposition: { body: Promise<string>; at: number } | undefined;
  /** Prometheus text format: what is in it is bounded by the registered commands and the bot's own label sets, never by a request. */
  async function metrics(_request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!exposition || performance.now() - exposition.at >= METRICS_CACHE_MS) {
      const body = services.metrics.exposition();
      exposition = { body, at: performance.now() };
      // The requests waiting for a failed one answer 500; the next one builds it again.
      body.catch(() => {
        if (exposition?.body === body) exposition = undefined;
      });
    }
    const body = await exposition.body;
    response.writeHead(200, { 'content-type': services.metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  }

  /** path -> method -> handler */
  const routes = new Map<string, Record<string, RouteHandler>>([['/healthz', { GET: healthz, HEAD: healthz }]]);
  if (services.metrics.enabled) routes.set('/metrics', { GET: metrics });
  if (callbackFlowEnabled(services.config)) {
    for (const [path, methods] of Object.entries(createCallbackFlow({ services, log, confirmLink: options.confirmLink }))) routes.set(path, methods);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.httpVersionMajor === 1 ? originFormTarget(request.url) : undefined;
    const lang = localeOfRequest(request);
    if (!url) return page(response, 400, t(lang, 'common.page.bad-request.title'), t(lang, 'common.page.bad-request.text'), { headers: { connection: 'close' }, lang });
    const methods = routes.get(url.pathname);
    if (!methods) return page(response, 404, t(lang, 'common.page.not-found.title'), t(lang, 'common.page.not-found.text'), { lang });
    const handler = methods[request.method ?? ''];
    if (!handler) {
      const methodList = Object.keys(methods).join(` ${t(lang, 'common.or')} `);
      return page(response, 405, t(lang, 'common.page.method.title'), t(lang, 'common.page.method.text', { methods: methodList }), { headers: { allow: Object.keys(methods).join(', ') }, lang });
    }
    await handler(request, response, url);
  }

  const server = createServer(
    {
      // Bounds on what one client can hold: 8 KB of headers (Node's default is 16 KB), 10 s to send
      // them, 15 s for the whole request.
      maxHeaderSize: 8192,
      headersTimeout: 10_000,
      requestTimeout: 15_000,
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: 1000,
    },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        log.error({ err: error, method: request.method, path: originFormTarget(request.url)?.pathname }, 'http handler failed');
        const lang = localeOfRequest(request);
        if (!response.headersSent) page(response, 500, t(lang, 'common.page.error.title'), t(lang, 'common.page.error.text'), { lang });
        else response.destroy();
      });
    },
  );
  server.maxHeadersCount = 64;
  server.maxRequestsPerSocket = 100;
  server.maxConnections = 512;
  server.on('clientError', answerClientError);

  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      // After start an 'error' is an accept failure (EMFILE under a flood): log it, keep serving.
      server.on('error', (error) => log.error({ err: error }, 'http server error'));
      resolve();
    });
  });

  return {
    listening,
    get port() {
      return (server.address() as AddressInfo | null)?.port ?? options.port;
    },
    get address() {
      return (server.address() as AddressInfo | null)?.address ?? options.host;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
