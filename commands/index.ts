/** Every slash command the bot registers, in one list: registration, dispatch and tests read it. */
import type { SlashCommand } from '../src/bot/command.js';
import { avatarCommand } from './avatar.js';
import { bannerCommand } from './banner.js';
import { brandingCommand, brandingConsentCommand } from './branding/index.js';
import { libraryCommand } from './library.js';
import { profileCommand } from './profile/index.js';
import { scheduleCommand } from './schedule/index.js';
import { twitterCommand } from './twitter.js';

export const commands: SlashCommand[] = [twitterCommand, avatarCommand, bannerCommand, profileCommand, libraryCommand, scheduleCommand, brandingConsentCommand, brandingCommand];
