/** English words for the errors area (see ../catalogue.ts). */
export default {
  'error.not-linked': 'Your X account is not linked yet.',
  'bot.error.not-linked': 'Your X account is not linked yet. Use /twitter link first.',
  'cli.error.not-linked': 'Discord user {discordUserId} has no linked X account. Link one with avatar-bot link --discord-user {discordUserId}.',
  'error.damaged-link': 'Your stored X link cannot be read.',
  'bot.error.damaged-link': 'Your stored X link cannot be read. Unlink with /twitter unlink and link again with /twitter link.',
  'cli.error.damaged-link': 'The stored X link of Discord user {discordUserId} cannot be read. Run avatar-bot unlink --discord-user {discordUserId}, then avatar-bot link --discord-user {discordUserId}.',
} as const;
