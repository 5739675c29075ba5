/** English words for the common area (see ../catalogue.ts). */
export default {
  'common.cancel': 'Cancel',
  'common.applying': 'Applying…',
  'common.timed-out': 'Timed out: nothing was changed.',
  'common.restarting': 'The bot is restarting; try again in a minute.',
  'common.button.link': 'Link your X account',
  'common.button.link-again': 'Link again',
  /** Appended to a list cut short: "a, b and 12 more". */
  'common.and-more': ' and {count} more',
  'common.or': 'or',
  'common.page.bad-request.title': 'Bad request',
  'common.page.bad-request.text': 'This server only answers requests for its own paths.',
  'common.page.not-found.title': 'Not found',
  'common.page.not-found.text': 'Nothing here.',
  'common.page.method.title': 'Method not allowed',
  'common.page.method.text': 'Use {methods}.',
  'common.page.error.title': 'Something went wrong',
  'common.page.error.text': 'It has been logged.',
} as const;
