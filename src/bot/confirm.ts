/**
 * One Confirm/Cancel step for every command that asks before it acts (/branding push, /twitter unlink):
 * the prompt with two buttons whose custom ids carry a fresh nonce (two prompts never answer each other),
 * a wait for a click by the user who ran the command only, and the prompt edited to say so when nobody
 * clicks in time or the user cancels. Every word is the caller's, in the user's locale, or the catalogue's.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ComponentType,
  MessageFlags,
  type AttachmentBuilder,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Message,
} from 'discord.js';
import { randomUUID } from 'node:crypto';
import type { Locale } from '../i18n/locale.js';
import { t } from '../i18n/t.js';

export interface ConfirmPrompt {
  locale: Locale;
  content: string;
  files?: AttachmentBuilder[];
  /** The confirm button's label (the cancel button says `common.cancel`). */
  confirmLabel: string;
  /** Custom ids of the two buttons, each carrying the prompt's nonce. */
  ids: (choice: 'confirm' | 'cancel', nonce: string) => string;
  /** How long the user has to click. */
  timeoutMs: number;
  /** The prompt's words after the time ran out; `common.timed-out` by default. */
  timedOut?: string;
  /** The prompt's words after Cancel. */
  cancelled: string;
  /** Send the prompt as an ephemeral reply (the default edits the deferred reply). */
  reply?: boolean;
}

/**
 * Ask, and resolve with the Confirm click (not yet answered: the caller updates it) or undefined when the
 * user cancelled or did not answer in time (the prompt says so, without its buttons and files).
 */
export async function confirm(interaction: ChatInputCommandInteraction, prompt: ConfirmPrompt): Promise<ButtonInteraction | undefined> {
  const nonce = randomUUID().slice(0, 8);
  const confirmId = prompt.ids('confirm', nonce);
  const cancelId = prompt.ids('cancel', nonce);
  const message = {
    content: prompt.content,
    files: prompt.files ?? [],
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId(confirmId).setLabel(prompt.confirmLabel).setStyle(ButtonStyle.Danger),
        new ButtonBuilder().setCustomId(cancelId).setLabel(t(prompt.locale, 'common.cancel')).setStyle(ButtonStyle.Secondary),
      ),
    ],
  };
  let sent: Message;
  if (prompt.reply) {
    const response = await interaction.reply({ ...message, flags: MessageFlags.Ephemeral, withResponse: true });
    sent = response.resource!.message!;
  } else {
    sent = await interaction.editReply(message);
  }
  let click: ButtonInteraction;
  try {
    click = await sent.awaitMessageComponent({
      componentType: ComponentType.Button,
      filter: (candidate) => candidate.user.id === interaction.user.id && (candidate.customId === confirmId || candidate.customId === cancelId),
      time: prompt.timeoutMs,
    });
  } catch {
    await interaction.editReply({ content: prompt.timedOut ?? t(prompt.locale, 'common.timed-out'), components: [], files: [], attachments: [] });
    return undefined;
  }
  if (click.customId === cancelId) {
    await click.update({ content: prompt.cancelled, components: [], files: [], attachments: [] });
    return undefined;
  }
  return click;
}
