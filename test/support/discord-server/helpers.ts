/**
 * Small helpers: JSON narrowing, snowflakes, permission sets, file names and types, multipart bodies, replies, and the waiters tests block on.
 */
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { MessageFlags, PermissionFlagsBits } from 'discord.js';
import { type RawData } from 'ws';
import type { Message, Reply } from './types.js';

export type JsonObject = Record<string, unknown>;

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
export const asObject = (value: unknown): JsonObject | undefined => (isObject(value) ? value : undefined);
export const asArray = (value: unknown): unknown[] | undefined => (Array.isArray(value) ? value : undefined);
export const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
export const asNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

const DISCORD_EPOCH = 1_420_070_400_000n;
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024;

let lastSnowflakeMs = 0n;
let snowflakeIncrement = 0n;
/** Unique, increasing snowflakes (so `createdTimestamp` is now, and ids sort by creation). */
export function snowflake(): string {
  let ms = BigInt(Date.now()) - DISCORD_EPOCH;
  if (ms <= lastSnowflakeMs) {
    ms = lastSnowflakeMs;
    snowflakeIncrement += 1n;
    if (snowflakeIncrement > 0xfffn) {
      ms += 1n;
      snowflakeIncrement = 0n;
    }
  } else {
    snowflakeIncrement = 0n;
  }
  lastSnowflakeMs = ms;
  return ((ms << 22n) | snowflakeIncrement).toString();
}

export const ALL_PERMISSIONS = Object.values(PermissionFlagsBits).reduce((all, bit) => all | bit, 0n);

export const EVERYONE_PERMISSIONS =
  PermissionFlagsBits.CreateInstantInvite |
  PermissionFlagsBits.AddReactions |
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.EmbedLinks |
  PermissionFlagsBits.AttachFiles |
  PermissionFlagsBits.ReadMessageHistory |
  PermissionFlagsBits.UseExternalEmojis |
  PermissionFlagsBits.Connect |
  PermissionFlagsBits.Speak |
  PermissionFlagsBits.ChangeNickname |
  PermissionFlagsBits.UseApplicationCommands |
  PermissionFlagsBits.SendMessagesInThreads;

export const CREATE_FLAGS =
  MessageFlags.SuppressEmbeds | MessageFlags.Ephemeral | MessageFlags.SuppressNotifications | MessageFlags.IsComponentsV2;
export const EDITABLE_FLAGS = MessageFlags.SuppressEmbeds | MessageFlags.IsComponentsV2;

export function sanitizeFilename(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  return cleaned === '' ? 'unknown' : cleaned;
}

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json',
};

export function guessContentType(filename: string, declared?: string): string {
  if (declared && declared !== 'application/octet-stream') return declared;
  const extension = filename.split('.').pop()?.toLowerCase() ?? '';
  return CONTENT_TYPES[extension] ?? declared ?? 'application/octet-stream';
}

export function sniffImageType(bytes: Buffer): string | undefined {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 6 && bytes.toString('latin1', 0, 4) === 'GIF8') return 'image/gif';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

export function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(12) === 0x49484452) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 10 && bytes.toString('latin1', 0, 4) === 'GIF8') {
    return { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  }
  return undefined;
}

export function apiError(status: number, code: number, message: string, errors?: JsonObject): Reply {
  return { status, body: errors ? { message, code, errors } : { message, code } };
}

export function invalidForm(field: string, errorCode: string, message: string): Reply {
  return apiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code: errorCode, message }] } });
}

export function rawDataToString(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.from(raw).toString('utf8');
}

export function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

interface MultipartPart {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

/** Binary-safe multipart/form-data parser; undefined when the body is malformed. */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | undefined {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: MultipartPart[] = [];
  let position = body.indexOf(delimiter);
  if (position < 0) return undefined;
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts; // closing "--"
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) return undefined;
    position += 2;
    const headerEnd = body.indexOf('\r\n\r\n', position);
    if (headerEnd < 0) return undefined;
    const next = body.indexOf(nextDelimiter, headerEnd + 4);
    if (next < 0) return undefined;
    const headers = new Map<string, string>();
    for (const line of body.subarray(position, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    const parameters = new Map<string, string>();
    for (const parameter of disposition.matchAll(/;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g)) {
      const key = parameter[1];
      if (key) parameters.set(key.toLowerCase(), parameter[2] ?? parameter[3]?.trim() ?? '');
    }
    const name = parameters.get('name');
    if (name === undefined) return undefined;
    let filename = parameters.get('filename');
    const extended = parameters.get('filename*');
    if (extended?.toLowerCase().startsWith("utf-8''")) {
      try {
        filename = decodeURIComponent(extended.slice(7));
      } catch {
        // keep the plain filename
      }
    }
    parts.push({
      name,
      filename,
      contentType: headers.get('content-type'),
      data: Buffer.from(body.subarray(headerEnd + 4, next)),
    });
    position = next + 2;
  }
}

/** Every component carrying a custom_id in a message (rows, labels, sections and containers included). */
export function componentsOf(message: Message | JsonObject): JsonObject[] {
  const found: JsonObject[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (!isObject(node)) return;
    if (typeof node.custom_id === 'string') found.push(node);
    visit(node.components);
    visit(node.component);
    visit(node.accessory);
  };
  visit((message as JsonObject).components);
  return found;
}

interface PendingWait {
  poll(): void;
  fail(error: Error): void;
}

/**
 * Promises that re-check a condition on every state change of the server, and every few
 * milliseconds for conditions on state the server does not see (e.g. a test's own variables).
 */
export class Waiters {
  private readonly pending = new Set<PendingWait>();
  private poller: NodeJS.Timeout | undefined;
  private closedWith: Error | undefined;

  wait<T>(check: () => T | undefined | false, timeoutMs: number, describe: () => string): Promise<T> {
    let first: T | undefined | false;
    try {
      first = check();
    } catch (error) {
      return Promise.reject(error);
    }
    if (first !== undefined && first !== false) return Promise.resolve(first);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(entry);
        if (this.pending.size === 0 && this.poller) {
          clearInterval(this.poller);
          this.poller = undefined;
        }
      };
      const entry: PendingWait = {
        poll: () => {
          let value: T | undefined | false;
          try {
            value = check();
          } catch (error) {
            finish();
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (value !== undefined && value !== false) {
            finish();
            resolve(value);
          }
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          finish();
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${describe()}`));
        }, timeoutMs);
      }
      this.pending.add(entry);
      this.poller ??= setInterval(() => this.notify(), 20);
    });
  }

  notify(): void {
    for (const entry of [...this.pending]) entry.poll();
  }

  close(error: Error): void {
    this.closedWith = error;
    for (const entry of [...this.pending]) entry.fail(error);
  }
}


export function sendReply(response: ServerResponse, reply: Reply): void {
  if (reply.status === 204 || reply.body === undefined) {
    response.writeHead(reply.status, reply.headers ?? {});
    response.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...(reply.headers ?? {}),
  });
  response.end(text);
}

/** Starts a Discord-compatible server on 127.0.0.1 (random port) with a default guild and channel. */
