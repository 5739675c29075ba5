/**
 * Files: the CDN serving attachments, avatars and test-served files, with ranges and redirects.
 */
import { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Download } from './types.js';
import { sendReply } from './helpers.js';
import type { MutableCall } from './state.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class CdnMethods {
  onCdnRequest(this: LocalDiscord, request: IncomingMessage, response: ServerResponse, url: URL, receivedAt: number): void {
    const path = url.pathname;
    const method = (request.method ?? 'GET').toUpperCase();
    const download: { -readonly [K in keyof Download]: Download[K] } = {
      path,
      receivedAt,
      status: 0,
      bytesSent: 0,
      completed: false,
      aborted: false,
    };
    request.resume(); // drain any body
    let entry = this.cdn.get(path);
    const avatar = /^\/avatars\/(\d+)\/([0-9a-f]+)\.(?:png|webp|jpg|jpeg|gif)$/.exec(path);
    if (!entry && avatar) {
      const user = this.users.get(avatar[1] ?? '');
      const bytes = this.avatars.get(avatar[1] ?? '');
      if (user && bytes && user.avatar === avatar[2]) {
        entry = { kind: 'file', bytes: bytes.bytes, contentType: bytes.contentType, contentLength: true, status: 200 };
      }
    }
    if (!entry || (method !== 'GET' && method !== 'HEAD')) {
      const call: MutableCall = {
        method,
        path,
        route: 'unknown',
        query: Object.fromEntries(url.searchParams),
        headers: request.headers,
        body: undefined,
        files: [],
        receivedAt,
        status: 404,
        response: { message: '404: Not Found', code: 0 },
        unexpected: true,
      };
      this.callLog.push(call);
      sendReply(response, { status: 404, body: call.response });
      this.waiters.notify();
      return;
    }
    this.downloadLog.push(download);
    const finish = (completed: boolean): void => {
      download.completed = completed;
      download.aborted = !completed;
      this.waiters.notify();
    };
    if (entry.kind === 'redirect') {
      download.status = entry.status;
      response.writeHead(entry.status, { location: entry.location, 'content-length': '0' });
      response.end(() => finish(true));
      return;
    }
    download.status = entry.status;
    const headers: Record<string, string> = { 'content-type': entry.contentType, 'cache-control': 'no-store' };
    if (entry.contentLength) headers['content-length'] = String(entry.bytes.length);
    response.writeHead(entry.status, headers);
    if (method === 'HEAD') {
      response.end(() => finish(true));
      return;
    }
    const bytes = entry.bytes;
    const chunkSize = entry.chunkSize;
    if (chunkSize === undefined) {
      response.end(bytes, () => {
        download.bytesSent = bytes.length;
        finish(true);
      });
      response.on('close', () => {
        if (!response.writableFinished) finish(false);
      });
      return;
    }
    let offset = 0;
    const timer = setInterval(() => {
      if (response.destroyed) return;
      const chunk = bytes.subarray(offset, offset + chunkSize);
      offset += chunk.length;
      download.bytesSent = offset;
      if (offset >= bytes.length) {
        clearInterval(timer);
        this.timers.delete(timer);
        response.end(chunk, () => finish(true));
      } else {
        response.write(chunk);
      }
    }, entry.intervalMs ?? 50);
    this.timers.add(timer);
    response.on('close', () => {
      clearInterval(timer);
      this.timers.delete(timer);
      if (!response.writableFinished) finish(false);
    });
  }
}
