/** de words for the twitter area: the same keys as ../en-US/twitter.ts. */
import type english from '../en-US/twitter.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'command.twitter.description': 'Verknüpfe dein X-Konto mit avatar-bot',
  'command.twitter.link.description': 'Verknüpfe dein X-Konto',
  'command.twitter.status.description': 'Zeigt dein verknüpftes X-Konto und ob die Verknüpfung funktioniert',
  'command.twitter.unlink.description': 'Entzieht dem Bot den Zugriff und löscht deine Daten',

  'twitter.link.authorise': 'Auf X autorisieren',
  'twitter.link.use-pin': 'Stattdessen PIN nutzen',
  'twitter.link.enter-pin': 'PIN eingeben',
  'twitter.link.callback-steps':
    '1. Klicke auf **Auf X autorisieren** und erlaube avatar-bot den Zugriff.\n2. X schickt dich zurück zu avatar-bot: Melde dich dort mit Discord an, prüfe, dass dein Discord-Konto angezeigt wird, und bestätige.\n3. Diese Nachricht bestätigt die Verknüpfung.\nDer Link gilt 15 Minuten und nur für dich.',
  'twitter.link.pin-steps':
    '1. Klicke auf **Auf X autorisieren** und erlaube avatar-bot den Zugriff.\n2. X zeigt dir eine PIN: Klicke auf **PIN eingeben** und tippe sie ein.\nDer Link gilt 15 Minuten und nur für dich.',
  'twitter.link.modal-title': 'X-Konto verknüpfen',
  'twitter.link.pin-label': 'Die PIN, die X anzeigt',
  'twitter.link.linked': '@{screenName} ist verknüpft. Mit /avatar setzen änderst du deinen X-Avatar.',

  'twitter.status.linked': 'Verknüpft',
  'twitter.status.health': 'Zustand der Verknüpfung',
  'twitter.status.working': 'Funktioniert',
  'twitter.status.revoked': 'Widerrufen: verknüpfe erneut',
  'twitter.status.unknown': 'Unbekannt: {problem}',
  'twitter.status.no-answer': 'X hat nicht geantwortet',
  'twitter.status.applied': 'Vom Bot gesetzte Avatare',

  'twitter.unlink.your-account': 'dein X-Konto',
  'twitter.unlink.confirm': '{name} trennen? Der Bot widerruft seinen Zugriff bei X und löscht deine Tokens und deinen Avatar-Verlauf.',
  'twitter.unlink.confirm-damaged':
    'Deine gespeicherte X-Verknüpfung kann nicht gelesen werden, deshalb kann X nicht benachrichtigt werden. Trotzdem trennen? Der Bot löscht deine gespeicherte Verknüpfung und deinen Avatar-Verlauf; du kannst avatar-bot auch unter x.com > Einstellungen > Sicherheit > Verbundene Apps entfernen.',
  'twitter.unlink.button': 'Trennen',
  'twitter.unlink.cancelled': 'Abgebrochen: Dein X-Konto bleibt verknüpft.',
  'twitter.unlink.unlinking': '{name} wird getrennt…',
  'twitter.unlink.done': '{name} getrennt: Zugriff bei X widerrufen, Tokens und Verlauf gelöscht.',
  'twitter.unlink.done-unconfirmed':
    '{name} hier getrennt: Tokens und Verlauf gelöscht. X hat den Widerruf nicht bestätigt ({problem}); du kannst avatar-bot auch unter x.com > Einstellungen > Sicherheit > Verbundene Apps entfernen.',
  'twitter.unlink.no-answer': 'keine Antwort',
  'twitter.unlink.unreadable': 'die gespeicherte Verknüpfung war nicht lesbar, daher konnte X nicht benachrichtigt werden',

  'twitter.page.not-linked': 'Nicht verknüpft',
  'twitter.page.denied': 'Du hast auf X abgelehnt, deshalb wurde nichts verknüpft. Du kannst diesen Tab schließen.',
  'twitter.page.missing-params': 'Diese Seite braucht das oauth_token und den oauth_verifier, die X anhängt. Führe /twitter verknüpfen noch einmal aus.',
  'twitter.page.sign-in': 'Mit Discord anmelden',
  'twitter.page.sign-in-text': '{link}, um die Verknüpfung abzuschließen.',
  'twitter.page.expired': 'Diese Anmeldung ist abgelaufen oder wurde schon benutzt. Führe /twitter verknüpfen noch einmal aus.',
  'twitter.page.other-browser':
    'Diese Anmeldung wurde in einem anderen Browser gestartet. Es wurde nichts verknüpft. Öffne den Link „Auf X autorisieren“ aus /twitter verknüpfen in dem Browser, den du nutzt.',
  'twitter.page.other-browser-short': 'Diese Anmeldung wurde in einem anderen Browser gestartet. Es wurde nichts verknüpft.',
  'twitter.page.no-discord': 'Du hast dich nicht mit Discord angemeldet, deshalb wurde nichts verknüpft. Führe /twitter verknüpfen noch einmal aus.',
  'twitter.page.wrong-account':
    'Du bist bei Discord als {account} angemeldet, aber diese X-Anmeldung wurde von einem anderen Discord-Konto gestartet. Deshalb wurde nichts verknüpft und die Anmeldung abgebrochen. Falls dir jemand seinen Link „Auf X autorisieren“ geschickt hat, wollte er deinen X-Avatar steuern: Führe /twitter verknüpfen lieber selbst aus.',
  'twitter.page.confirm': 'Das X-Konto, das du gerade auf X erlaubt hast, mit dem Discord-Konto {account} verknüpfen? Es wird erst verknüpft, wenn du auf den Button drückst.',
  'twitter.page.confirm-button': 'Mit @{username} verknüpfen',
  'twitter.page.not-you': 'Nicht dein Discord-Konto? Schließ diesen Tab.',
  'twitter.page.too-large': 'Diese Anfrage ist zu groß.',
  'twitter.page.not-a-form': 'Nutze den Button auf der Bestätigungsseite.',
  'twitter.page.linked-title': '@{screenName} verknüpft',
  'twitter.page.linked': 'Dein X-Konto @{screenName} ist mit dem Discord-Konto {account} verknüpft. Du kannst diesen Tab schließen und zu Discord zurückkehren.',
} satisfies AreaOf<typeof english>;
