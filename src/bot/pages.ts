/** The small HTML pages the bot's HTTP server shows in a browser. */
import type { ServerResponse } from 'node:http';

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

/** A page of plain text; `html` is appended as it is (callers escape what goes into it). */
export function page(response: ServerResponse, status: number, title: string, text: string, options: { html?: string; headers?: Record<string, string | string[]> } = {}): void {
  response.writeHead(status, { ...PAGE_HEADERS, ...options.headers });
  response.end(`<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>${options.html ?? ''}`);
}
