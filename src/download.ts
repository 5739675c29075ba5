/**
 * Downloads untrusted images by URL: Discord attachments and people's current X avatars.
 *
 * The URL comes from outside, so every hop (the first URL and each redirect) must be https to an
 * allowed host before anything is sent; http is allowed only to loopback, where the test servers run.
 * Redirects are followed by hand so each one is checked. The size cap is applied to the declared
 * size, to content-length and, while streaming, to the bytes actually received; one deadline covers
 * connect, headers and body. What the bytes are is not decided here: the image pipeline sniffs them.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { UserFacingError, type ErrorParams } from './errors.js';

export const DOWNLOAD_ERROR_KINDS = ['host-not-allowed', 'download-too-large', 'timeout', 'http-error', 'network'] as const;
export type DownloadErrorKind = (typeof DOWNLOAD_ERROR_KINDS)[number];

export class DownloadError extends UserFacingError<DownloadErrorKind> {
  /** The HTTP status, for http-error. */
  readonly status?: number;

  constructor(kind: DownloadErrorKind, params: ErrorParams = {}, options: { status?: number; cause?: unknown; detail?: string; variant?: string } = {}) {
    super(kind, params, { cause: options.cause, detail: options.detail, variant: options.variant });
    this.status = options.status;
  }
}

export interface DownloaderOptions {
  /** 'host' (default port of the scheme only) or 'host:port', lower-case, as config parses them. */
  allowedHosts: string[];
  /** Who hosts the images, for the refusal sentence: 'Discord' gives "...that were uploaded to Discord." */
  sourceName?: string;
  /** 25 MB by default. */
  maxBytes?: number;
  /** One deadline for the whole download (connect, headers, body); 20 s by default. */
  timeoutMs?: number;
  /** 3 by default; every hop must itself be an allowed host. */
  maxRedirects?: number;
  /** Injected in tests; one keep-alive Agent is created otherwise. */
  dispatcher?: Dispatcher;
}

export interface Downloader {
  /** `declaredSize` is the size the sender announced (Discord gives it for attachments). */
  download(url: string, options?: { declaredSize?: number }): Promise<Buffer>;
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const HOST_ENTRY = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;
const UNDICI_TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function isLoopback(hostname: string): boolean {
  // WHATWG URL has already normalised IPv4 spellings (127.1, 2130706433) and IPv6 to their canonical form.
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** The parsed URL when it may be fetched, undefined otherwise. */
function allowedUrl(url: string | URL, allowedHosts: readonly string[]): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.username !== '' || parsed.password !== '') return undefined;
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopback(parsed.hostname))) return undefined;
  // Parse each entry with the URL's own scheme so both sides are normalised alike: `url.host` omits
  // the default port, so an entry without a port matches the default port only.
  const allowed = allowedHosts.some((entry) => {
    if (!HOST_ENTRY.test(entry)) return false;
    try {
      return new URL(`${parsed.protocol}//${entry}`).host === parsed.host;
    } catch {
      return false;
    }
  });
  return allowed ? parsed : undefined;
}

/** Whether `url` may be downloaded: https (or http to loopback), no userinfo, an allowed host and port. */
export function isAllowedUrl(url: string, allowedHosts: string[]): boolean {
  return allowedUrl(url, allowedHosts) !== undefined;
}

/** Host and path for logs; never the query string, which carries Discord's signature. */
function describeUrl(url: string | URL): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'not a URL';
  }
}

function formatSize(bytes: number): string {
  const units: [number, string][] = [
    [1024 * 1024, 'MB'],
    [1024, 'KB'],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** Stop a response body we will not read; undici reports that as an error, which nobody needs to hear. */
function abandon(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function createDownloader(options: DownloaderOptions): Downloader {
  const allowedHosts = [...options.allowedHosts];
  const maxBytes = options.maxBytes ?? 25 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const maxRedirects = options.maxRedirects ?? 3;
  const ownDispatcher = options.dispatcher === undefined;
  const dispatcher =
    options.dispatcher ??
    new Agent({
      connect: { timeout: Math.min(timeoutMs, 10_000) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 10_000,
    });

  const notAllowed = (detail: string) =>
    options.sourceName ? new DownloadError('host-not-allowed', { source: options.sourceName }, { variant: 'source', detail }) : new DownloadError('host-not-allowed', {}, { detail });
  const tooLarge = (detail: string) =>
    new DownloadError('download-too-large', { size: formatSize(maxBytes) }, { detail });
  /** variant: undefined (HTTP status), 'no-location', 'too-many-redirects', 'broken-redirect'. */
  const httpError = (status: number, variant: string | undefined, detail: string) => new DownloadError('http-error', { status }, { status, detail, variant });

  async function readCapped(body: Dispatcher.ResponseData['body'], where: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > maxBytes) {
        abandon(body); // stop the transfer now rather than drain the rest
        throw tooLarge(`${where}: more than ${maxBytes} bytes received`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, received);
  }

  async function fetchFollowingRedirects(first: URL, signal: AbortSignal, onHop: (url: URL) => void): Promise<Buffer> {
    let current = first;
    for (let redirects = 0; ; redirects++) {
      onHop(current);
      const where = describeUrl(current);
      // undici's request() never follows redirects unless a redirect interceptor is added: none is.
      const { statusCode, headers, body } = await request(current, { method: 'GET', dispatcher, signal });

      if (REDIRECT_STATUSES.has(statusCode)) {
        await body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        const location = header(headers.location);
        if (location === undefined) throw httpError(statusCode, 'no-location', where);
        if (redirects >= maxRedirects) throw httpError(statusCode, 'too-many-redirects', `${where}: more than ${maxRedirects} redirects`);
        let target: URL;
        try {
          target = new URL(location, current);
        } catch {
          throw httpError(statusCode, 'broken-redirect', `${where}: unparseable location`);
        }
        const next = allowedUrl(target, allowedHosts);
        if (next === undefined) throw notAllowed(`${where} redirected to ${describeUrl(target)}`);
        current = next;
        continue;
      }

      if (statusCode < 200 || statusCode >= 300) {
        abandon(body);
        throw httpError(statusCode, undefined, where);
      }
      const length = Number(header(headers['content-length']));
      if (Number.isFinite(length) && length > maxBytes) {
        abandon(body);
        throw tooLarge(`${where}: content-length ${length}`);
      }
      return readCapped(body, where);
    }
  }

  return {
    async download(url, { declaredSize } = {}) {
      const first = allowedUrl(url, allowedHosts);
      if (first === undefined) throw notAllowed(describeUrl(url));
      if (declaredSize !== undefined && declaredSize > maxBytes) throw tooLarge(`${describeUrl(first)}: declared size ${declaredSize}`);

      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), timeoutMs);
      let current = first;
      try {
        return await fetchFollowingRedirects(first, deadline.signal, (hop) => (current = hop));
      } catch (error) {
        if (error instanceof DownloadError) throw error;
        const code = (error as { code?: unknown } | null)?.code;
        if (deadline.signal.aborted || (typeof code === 'string' && UNDICI_TIMEOUTS.has(code))) {
          throw new DownloadError('timeout', {}, {
            cause: error,
            detail: `${describeUrl(current)}: no complete answer within ${timeoutMs} ms`,
          });
        }
        throw new DownloadError('network', {}, {
          cause: error,
          detail: `${describeUrl(current)}: ${typeof code === 'string' ? code : 'network error'}`,
        });
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      if (ownDispatcher) await dispatcher.close();
    },
  };
}
