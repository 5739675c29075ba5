/**
 * What the scheduler needs to know about team branding, and nothing more: the bot's services pass the
 * branding module's team seasons in (src/services.ts), so src/schedule does not depend on src/branding.
 */
import type { Team } from './plan.js';

export interface TeamOverrides {
  /** The member's teams with their seasons (the servers they opted in to, in their opt-in order). */
  forMember(userId: string): Promise<Team[]>;
  /**
   * forMember for every member at once, read now (a catch-up asks for every user); undefined for a member
   * whose teams must be read on their own with forMember.
   */
  everyMember(): Promise<(userId: string) => Team[] | undefined>;
  /** Whose library holds a team's images. */
  libraryOwner(guildId: string): string;
}
