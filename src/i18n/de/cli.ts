/** de words for the cli area: the same keys as ../en-US/cli.ts. */
import type english from '../en-US/cli.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'cli.error.text-too-long.name': 'Der Text von --name hat {length} Zeichen; X erlaubt in einem Anzeigenamen höchstens {max}. Es wurde nichts gesendet.',
  'cli.error.text-too-long.description': 'Der Text von --bio hat {length} Zeichen; X erlaubt höchstens {max}. Es wurde nichts gesendet.',
  'cli.error.empty.name': "Der Text von --name ist leer; X braucht einen Anzeigenamen. (--bio '' leert die Bio.)",
  'cli.error.nothing-to-revert.avatar': 'Es gibt nichts zurückzusetzen: Das X-Profilbild des Discord-Nutzers {discordUserId} ist das, das er vor der Änderung durch den Bot hatte.',
  'cli.error.nothing-to-revert.banner': 'Es gibt nichts zurückzusetzen: Das X-Banner des Discord-Nutzers {discordUserId} ist das, das er vor der Änderung durch den Bot hatte.',
  'cli.error.nothing-to-revert.name': 'Es gibt nichts zurückzusetzen: Der X-Anzeigename des Discord-Nutzers {discordUserId} ist der, den er vor der Änderung durch den Bot hatte.',
  'cli.error.nothing-to-revert.bio': 'Es gibt nichts zurückzusetzen: Die X-Bio des Discord-Nutzers {discordUserId} ist die, die er vor der Änderung durch den Bot hatte.',
} satisfies AreaOf<typeof english>;
