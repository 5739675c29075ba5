/** English words for the cli area (see ../catalogue.ts): the terminal's own words for what its commands meet. */
export default {
  // avatar-bot profile: checked before anything is sent (src/profile/text.ts counts as X does)
  'cli.error.text-too-long.name': 'The --name text has {length} characters; X allows at most {max} in a display name. Nothing was sent.',
  'cli.error.text-too-long.description': 'The --bio text has {length} characters; X allows at most {max}. Nothing was sent.',
  'cli.error.empty.name': "The --name text is empty; X needs a display name. (--bio '' empties the bio.)",
  // avatar-bot revert --part …: the part the bot never changed (or changed back already)
  'cli.error.nothing-to-revert.avatar': 'There is nothing to revert: the X avatar of Discord user {discordUserId} is the one it had before the bot changed it.',
  'cli.error.nothing-to-revert.banner': 'There is nothing to revert: the X banner of Discord user {discordUserId} is the one it had before the bot changed it.',
  'cli.error.nothing-to-revert.name': 'There is nothing to revert: the X display name of Discord user {discordUserId} is the one it had before the bot changed it.',
  'cli.error.nothing-to-revert.bio': 'There is nothing to revert: the X bio of Discord user {discordUserId} is the one it had before the bot changed it.',
} as const;
