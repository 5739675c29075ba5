/**
 * Waiting for what the bot does: sessions ready, a message, a DM, a REST call.
 */
import { WebSocket } from 'ws';
import type { Message, PostedMessage, RecordedCall, StoredFile } from './types.js';
import { asArray, asObject, asString } from './helpers.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class WaitingMethods {
  waitFor<T>(
    this: LocalDiscord,
    check: () => T | undefined | false,
    timeoutMs: number = this.timeoutMs,
    description: string | (() => string) = 'a condition',
  ): Promise<T> {
    const describe = (): string => (typeof description === 'string' ? description : description());
    return this.waiters.wait(check, timeoutMs, () => `${describe()}\n${this.recentCallsSummary()}`);
  }

  recentCallsSummary(this: LocalDiscord): string {
    const recent = this.callLog.slice(-15).map((call) => `  ${call.method} ${call.path} -> ${call.status}`);
    return recent.length > 0 ? `Last REST calls:\n${recent.join('\n')}` : 'No REST calls were made.';
  }

  async waitForBot(this: LocalDiscord, options: { sessions?: number; timeoutMs?: number } = {}): Promise<void> {
    const wanted = options.sessions ?? 1;
    await this.waitFor(
      () => this.gatewaySessions.filter((session) => session.ready && session.ws?.readyState === WebSocket.OPEN).length >= wanted,
      options.timeoutMs ?? this.timeoutMs,
      `${wanted} ready gateway session(s) (have ${this.gatewaySessions.filter((session) => session.ready).length})`,
    );
  }

  waitForMessage(this: LocalDiscord, predicate: (posted: PostedMessage) => boolean, timeoutMs: number = this.timeoutMs): Promise<PostedMessage> {
    return this.waitFor(() => this.posted.find(predicate), timeoutMs, 'a channel message matching the predicate');
  }

  waitForDm(this: LocalDiscord, userId: string, predicate: (message: Message) => boolean = () => true, timeoutMs: number = this.timeoutMs): Promise<PostedMessage> {
    return this.waitFor(
      () => this.posted.find((posted) => posted.recipientId === userId && predicate(posted.message)),
      timeoutMs,
      `a DM to ${userId}`,
    );
  }

  waitForCall(this: LocalDiscord, predicate: (call: RecordedCall) => boolean, timeoutMs: number = this.timeoutMs): Promise<RecordedCall> {
    return this.waitFor(() => this.callLog.find((call) => call.status !== 0 && predicate(call)), timeoutMs, 'a REST call');
  }

  message(this: LocalDiscord, id: string): Message | undefined {
    const stored = this.storedMessages.get(id);
    return stored && !stored.deleted ? (stored.wire as unknown as Message) : undefined;
  }

  filesOf(this: LocalDiscord, message: Message | string): StoredFile[] {
    const id = typeof message === 'string' ? message : message.id;
    const stored = this.storedMessages.get(id);
    if (!stored) return [];
    const attachments = asArray(stored.wire.attachments) ?? [];
    return attachments.flatMap((attachment) => {
      const file = stored.files.get(asString(asObject(attachment)?.id) ?? '');
      return file ? [file] : [];
    });
  }
}
