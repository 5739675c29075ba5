/** de words for the errors area: the same keys as ../en-US/errors.ts. */
import type english from '../en-US/errors.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'error.not-linked': 'Dein X-Konto ist noch nicht verknüpft.',
  'bot.error.not-linked': 'Dein X-Konto ist noch nicht verknüpft. Verknüpfe es zuerst mit /twitter link.',
  'cli.error.not-linked': 'Der Discord-Nutzer {discordUserId} hat kein verknüpftes X-Konto. Verknüpfe eines mit avatar-bot link --discord-user {discordUserId}.',
  'error.damaged-link': 'Deine gespeicherte X-Verknüpfung kann nicht gelesen werden.',
  'bot.error.damaged-link': 'Deine gespeicherte X-Verknüpfung kann nicht gelesen werden. Trenne sie mit /twitter unlink und verknüpfe dann erneut mit /twitter link.',
  'cli.error.damaged-link': 'Die gespeicherte X-Verknüpfung des Discord-Nutzers {discordUserId} kann nicht gelesen werden. Führe avatar-bot unlink --discord-user {discordUserId} und dann avatar-bot link --discord-user {discordUserId} aus.',
} satisfies AreaOf<typeof english>;
