/** Every slash command the bot registers, in one list: registration, dispatch and tests read it. */
import type { SlashCommand } from '../src/bot/command.js';
import { avatarCommand } from './avatar.js';
import { twitterCommand } from './twitter.js';

export const commands: SlashCommand[] = [twitterCommand, avatarCommand];
