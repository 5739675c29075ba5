/** The small HTML pages the bot's HTTP server shows in a browser. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_LOCALE, type Locale } from '../i18n/locale.js';

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Every page the server writes: no caching, no referrer, no framing (the confirm page has a button), no scripts. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
} as const;

/** Accept-Language entries looked at: a browser sends a handful; the header itself is bounded by the server (8 KB). */
const MAX_LANGUAGE_RANGES = 20;

/**
 * The language of a browser's pages: the first of its Accept-Language ranges (by q, then order) that we
 * speak (`de-AT` → de, `ja-JP` → ja, `en-GB` → en-US); en-US when none is.
 */
export function localeOfRequest(request: IncomingMessage): Locale {
  const header = request.headers['accept-language'];
  if (typeof header !== 'string') return DEFAULT_LOCALE;
  const ranges = header
    .split(',', MAX_LANGUAGE_RANGES)
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((param) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
      return { primary: tag.trim().toLowerCase().split('-')[0], q: q === undefined ? 1 : Number(q), index };
    })
    .filter((range) => range.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { primary } of ranges) {
    if (primary === 'de' || primary === 'ja') return primary;
    if (primary === 'en') return 'en-US';
  }
  return DEFAULT_LOCALE;
}

/** A page of plain text; `html` is appended as it is (callers escape what goes into it). */
export function page(response: ServerResponse, status: number, title: string, text: string, options: { html?: string; headers?: Record<string, string | string[]>; lang?: Locale } = {}): void {
  response.writeHead(status, { ...PAGE_HEADERS, ...options.headers });
  response.end(`<!doctype html><html lang="${options.lang ?? DEFAULT_LOCALE}"><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>${options.html ?? ''}`);
}
