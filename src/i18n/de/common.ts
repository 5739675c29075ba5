/** de words for the common area: the same keys as ../en-US/common.ts. */
import type english from '../en-US/common.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'common.cancel': 'Abbrechen',
  'common.applying': 'Wird übernommen…',
  'common.timed-out': 'Zeit abgelaufen: Es wurde nichts geändert.',
  'common.restarting': 'Der Bot startet gerade neu. Versuch es in einer Minute noch mal.',
  'common.button.link': 'X-Konto verknüpfen',
  'common.button.link-again': 'Erneut verknüpfen',
  'common.and-more': ' und {count} weitere',
  'common.or': 'oder',
  'common.page.bad-request.title': 'Ungültige Anfrage',
  'common.page.bad-request.text': 'Dieser Server beantwortet nur Anfragen für seine eigenen Pfade.',
  'common.page.not-found.title': 'Nicht gefunden',
  'common.page.not-found.text': 'Hier gibt es nichts.',
  'common.page.method.title': 'Methode nicht erlaubt',
  'common.page.method.text': 'Verwende {methods}.',
  'common.page.error.title': 'Etwas ist schiefgelaufen',
  'common.page.error.text': 'Der Fehler wurde protokolliert.',
} satisfies AreaOf<typeof english>;
