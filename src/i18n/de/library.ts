/** de words for the library area: the same keys as ../en-US/library.ts. */
import type english from '../en-US/library.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'command.library.description': 'Deine benannten Bilder für geplante Avatare',
  'command.library.add.description': 'Speichere ein Bild unter einem Namen',
  'command.library.add.name.description': 'Ein Name wie winter oder geburtstag',
  'command.library.add.image.description': 'Ein JPG-, PNG-, GIF- oder WebP-Bild',
  'command.library.add.crop.description': 'Wie es quadratisch wird (Standard: um den interessantesten Teil)',
  'command.library.add.crop.choice.attention': 'Fokus (interessantester Teil)',
  'command.library.add.crop.choice.centre': 'Mitte',
  'command.library.add.crop.choice.contain': 'Einpassen (ganzes Bild auf einem Hintergrund)',
  'command.library.add.background.description': 'Hintergrundfarbe für Einpassen oder Transparenz, z. B. #1da1f2',
  'command.library.list.description': 'Zeigt deine Bilder',
  'command.library.remove.description': 'Entfernt ein Bild',
  'command.library.remove.name.description': 'Das Bild, das entfernt werden soll',

  'library.saved': '„{name}“ in deiner Bibliothek gespeichert. Nutze es in /zeitplan saison, rotation, ereignis oder standard.',
  'library.empty': 'Deine Bibliothek ist leer. Füge Bilder mit /bibliothek hinzufügen hinzu.',
  'library.count_one': '{count} Bild in deiner Bibliothek.',
  'library.count_other': '{count} Bilder in deiner Bibliothek.',
  'library.also': 'Außerdem: {names}',
  'library.added': 'hinzugefügt {date}',
  'library.removed': '„{name}“ entfernt.',
  'library.removed-in-use_one': '„{name}“ entfernt. {count} Zeitplan nutzt es und wird pausiert, wenn er fällig ist.',
  'library.removed-in-use_other': '„{name}“ entfernt. {count} Zeitpläne nutzen es und werden pausiert, wenn sie fällig sind.',
} satisfies AreaOf<typeof english>;
