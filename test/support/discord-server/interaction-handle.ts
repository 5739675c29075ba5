/**
 * The handle a test holds for one interaction: waits for its replies and acts on them (click, select, submit a modal).
 */
import { MessageFlags } from 'discord.js';
import type { AutocompleteChoice, ComponentOptions, Interaction, InteractionCallback, Message, ModalData, ModalFieldValue, StoredFile, TestUser } from './types.js';
import { asNumber } from './helpers.js';
import type { InteractionState } from './state.js';
import type { LocalDiscord } from './server.js';

export class InteractionHandle implements Interaction {
  constructor(
    private readonly server: LocalDiscord,
    /** @internal */
    readonly state: InteractionState,
  ) {}

  get id(): string {
    return this.state.id;
  }
  get token(): string {
    return this.state.token;
  }
  get type(): number {
    return this.state.type;
  }
  get user(): TestUser {
    return this.state.user;
  }
  get guildId(): string | null {
    return this.state.guild?.id ?? null;
  }
  get channelId(): string {
    return this.state.channel.id;
  }
  get sessionId(): string {
    return this.state.sessionId;
  }
  get payload(): Readonly<Record<string, unknown>> {
    return this.state.payload;
  }
  get sentAt(): number {
    return this.state.sentAt;
  }
  get callbacks(): readonly InteractionCallback[] {
    return this.state.callbacks;
  }
  get acknowledged(): boolean {
    return this.state.acknowledged;
  }
  get ackMs(): number | undefined {
    const ack = this.state.callbacks.find((callback) => callback.status < 300);
    return ack ? ack.receivedAt - this.state.sentAt : undefined;
  }
  get original(): Message | undefined {
    return this.state.originalId ? this.server.message(this.state.originalId) : undefined;
  }
  get followUps(): readonly Message[] {
    return this.state.followUpIds.flatMap((id) => {
      const message = this.server.message(id);
      return message ? [message] : [];
    });
  }
  get ephemeral(): boolean {
    const original = this.original;
    if (original) return ((original.flags ?? 0) & MessageFlags.Ephemeral) !== 0;
    const first = this.state.callbacks.find((callback) => callback.status < 300);
    return ((asNumber(first?.data?.flags) ?? 0) & MessageFlags.Ephemeral) !== 0;
  }
  get files(): readonly StoredFile[] {
    const original = this.original;
    return original ? this.server.filesOf(original) : [];
  }
  get modal(): ModalData | undefined {
    return this.state.modal;
  }
  get choices(): readonly AutocompleteChoice[] | undefined {
    return this.state.choices;
  }

  waitForAck(timeoutMs?: number): Promise<InteractionCallback> {
    return this.server.waitFor(
      () => this.state.callbacks.find((callback) => callback.status < 300),
      timeoutMs,
      `an accepted callback for interaction ${this.id}${this.state.commandName ? ` (/${this.state.commandName})` : ''}`,
    );
  }

  async firstResponseMs(timeoutMs?: number): Promise<number> {
    const first = await this.server.waitFor(
      () => this.state.callbacks[0],
      timeoutMs,
      `a callback for interaction ${this.id}${this.state.commandName ? ` (/${this.state.commandName})` : ''}`,
    );
    return first.receivedAt - this.state.sentAt;
  }

  waitForReply(predicate?: (message: Message) => boolean, timeoutMs?: number): Promise<Message> {
    return this.server.waitFor(
      () => {
        const original = this.original;
        if (!original) return undefined;
        if (predicate) return predicate(original) ? original : undefined;
        const loading = ((original.flags ?? 0) & MessageFlags.Loading) !== 0;
        return this.state.originalWrites > 0 && !loading ? original : undefined;
      },
      timeoutMs,
      () =>
        `a reply to interaction ${this.id}${this.state.commandName ? ` (/${this.state.commandName})` : ''}` +
        (this.original ? `; @original is now ${JSON.stringify(this.original.content)}` : '; no @original yet'),
    );
  }

  waitForFollowUp(predicate: (message: Message) => boolean = () => true, timeoutMs?: number): Promise<Message> {
    return this.server.waitFor(
      () => this.followUps.find(predicate),
      timeoutMs,
      `a follow-up to interaction ${this.id} (${this.followUps.length} so far)`,
    );
  }

  waitForModal(timeoutMs?: number): Promise<ModalData> {
    return this.server.waitFor(() => this.state.modal, timeoutMs, `a modal for interaction ${this.id}`);
  }

  click(customId: string, userOrOptions?: TestUser | ComponentOptions): Promise<Interaction> {
    return this.server.componentInteraction(componentOptions(userOrOptions), customId, undefined, this.state);
  }

  select(customId: string, values: string[], userOrOptions?: TestUser | ComponentOptions): Promise<Interaction> {
    return this.server.componentInteraction(componentOptions(userOrOptions), customId, values, this.state);
  }

  submitModal(fields: Record<string, ModalFieldValue>, user?: TestUser): Promise<Interaction>;
  submitModal(customId: string, fields: Record<string, ModalFieldValue>, user?: TestUser): Promise<Interaction>;
  submitModal(
    first: string | Record<string, ModalFieldValue>,
    second?: Record<string, ModalFieldValue> | TestUser,
    third?: TestUser,
  ): Promise<Interaction> {
    if (typeof first === 'string') {
      return this.server.submitModalFor(this.state, first, (second ?? {}) as Record<string, ModalFieldValue>, third);
    }
    return this.server.submitModalFor(this.state, undefined, first, second as TestUser | undefined);
  }
}

/** A modal or component sent from the same user's client carries that client's language. */
export const localeOption = (locale: string | undefined): { locale?: string } => (locale === undefined ? {} : { locale });

function componentOptions(userOrOptions: TestUser | ComponentOptions | undefined): ComponentOptions {
  if (userOrOptions === undefined) return {};
  return 'username' in userOrOptions ? { user: userOrOptions } : userOrOptions;
}
