/**
 * Wire objects: users, members, roles, channels and guilds as Discord sends them, and the permissions computed for them.
 */
import { ChannelType, GatewayIntentBits, PermissionFlagsBits } from 'discord.js';
import type { TestUser } from './types.js';
import { ALL_PERMISSIONS, EVERYONE_PERMISSIONS, type JsonObject, snowflake } from './helpers.js';
import type { ChannelState, CommandContext, GatewaySession, GuildState, MemberState, RoleState } from './state.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class WireMethods {
  userWire(this: LocalDiscord, user: TestUser): JsonObject {
    return {
      id: user.id,
      username: user.username,
      global_name: user.globalName,
      discriminator: '0',
      avatar: user.avatar,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
      ...(user.bot ? { bot: true } : {}),
    };
  }

  memberWire(this: LocalDiscord, guild: GuildState, member: MemberState): JsonObject {
    const user = this.users.get(member.userId);
    return {
      user: user ? this.userWire(user) : { id: member.userId, username: 'unknown', discriminator: '0', avatar: null, global_name: null },
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: member.roles.filter((roleId) => roleId !== guild.id && guild.roles.has(roleId)),
      joined_at: member.joinedAt,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
  }

  roleWire(this: LocalDiscord, role: RoleState): JsonObject {
    return {
      id: role.id,
      name: role.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions.toString(),
      managed: role.botId !== undefined,
      mentionable: false,
      flags: 0,
      ...(role.botId === undefined ? {} : { tags: { bot_id: role.botId } }),
    };
  }

  channelWire(this: LocalDiscord, channel: ChannelState): JsonObject {
    if (channel.guildId === null && channel.recipientIds) {
      // As an interaction carries it: the other recipients (a group DM also its name, icon and owner).
      const recipients = channel.recipientIds.map((id) => this.users.get(id)).filter((user) => user !== undefined).map((user) => this.userWire(user));
      return channel.type === ChannelType.GroupDM
        ? { id: channel.id, type: ChannelType.GroupDM, name: channel.name, icon: null, owner_id: channel.ownerId ?? null, last_message_id: channel.lastMessageId, flags: 0, recipients }
        : { id: channel.id, type: ChannelType.DM, last_message_id: channel.lastMessageId, flags: 0, recipients };
    }
    if (channel.guildId === null) {
      const recipient = channel.recipientId ? this.users.get(channel.recipientId) : undefined;
      return {
        id: channel.id,
        type: ChannelType.DM,
        last_message_id: channel.lastMessageId,
        flags: 0,
        recipients: recipient ? [this.userWire(recipient)] : [],
      };
    }
    return {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guildId,
      name: channel.name,
      position: channel.position,
      permission_overwrites: (channel.overwrites ?? []).map((overwrite) => ({
        id: overwrite.id,
        type: overwrite.type,
        allow: (overwrite.allow ?? 0n).toString(),
        deny: (overwrite.deny ?? 0n).toString(),
      })),
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: channel.lastMessageId,
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  /** A resolved channel carries the invoking member's permissions in that channel, as Discord sends them. */
  resolvedChannelWire(this: LocalDiscord, channel: ChannelState, context: CommandContext): JsonObject {
    const permissions = context.guild ? this.channelPermissions(channel, context.user.id) : EVERYONE_PERMISSIONS;
    return { ...this.channelWire(channel), permissions: permissions.toString() };
  }

  guildWire(this: LocalDiscord, guild: GuildState): JsonObject {
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      application_id: null,
      system_channel_id: guild.defaultChannelId,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_members: 500_000,
      max_video_channel_users: 25,
      vanity_url_code: null,
      preferred_locale: guild.preferredLocale,
      features: [],
      roles: [...guild.roles.values()].map((role) => this.roleWire(role)),
      emojis: [],
      stickers: [],
    };
  }

  /**
   * GUILD_CREATE as Discord sends it to a bot: the whole guild plus channels and roles. Members:
   * all of them with the GUILD_MEMBERS intent, otherwise only the bot's own member.
   */
  guildCreateWire(this: LocalDiscord, guild: GuildState, session: GatewaySession): JsonObject {
    const allMembers = (session.intents & GatewayIntentBits.GuildMembers) !== 0;
    const members = [...guild.members.values()].filter((member) => allMembers || member.userId === this.botUser.id);
    return {
      ...this.guildWire(guild),
      joined_at: guild.members.get(this.botUser.id)?.joinedAt ?? new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: members.map((member) => this.memberWire(guild, member)),
      channels: [...guild.channels.values()].map((channel) => this.channelWire(channel)),
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  permissionsOf(this: LocalDiscord, guild: GuildState, userId: string): bigint {
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    let permissions = guild.roles.get(guild.id)?.permissions ?? 0n;
    for (const roleId of guild.members.get(userId)?.roles ?? []) permissions |= guild.roles.get(roleId)?.permissions ?? 0n;
    return permissions & PermissionFlagsBits.Administrator ? ALL_PERMISSIONS : permissions;
  }

  /**
   * Discord's order: the guild-level permissions; Administrator (or owning the guild) is everything;
   * then the channel's @everyone overwrite, the member's roles' overwrites (denies, then allows,
   * combined), then the member's own overwrite. Not a member: nothing. A DM: @everyone's defaults.
   */
  channelPermissions(this: LocalDiscord, channel: ChannelState, userId: string): bigint {
    if (channel.guildId === null) return EVERYONE_PERMISSIONS;
    const guild = this.requireGuild(channel.guildId);
    const member = guild.members.get(userId);
    if (!member) return 0n;
    let permissions = this.permissionsOf(guild, userId);
    if (permissions === ALL_PERMISSIONS) return permissions;
    const overwrites = channel.overwrites ?? [];
    const everyone = overwrites.find((overwrite) => overwrite.type === 0 && overwrite.id === guild.id);
    if (everyone) permissions = (permissions & ~(everyone.deny ?? 0n)) | (everyone.allow ?? 0n);
    let allow = 0n;
    let deny = 0n;
    for (const overwrite of overwrites) {
      if (overwrite.type !== 0 || overwrite.id === guild.id || !member.roles.includes(overwrite.id)) continue;
      allow |= overwrite.allow ?? 0n;
      deny |= overwrite.deny ?? 0n;
    }
    permissions = (permissions & ~deny) | allow;
    const own = overwrites.find((overwrite) => overwrite.type === 1 && overwrite.id === userId);
    if (own) permissions = (permissions & ~(own.deny ?? 0n)) | (own.allow ?? 0n);
    // Without View Channel nothing else in the channel applies.
    return permissions & PermissionFlagsBits.ViewChannel ? permissions : 0n;
  }

  requireGuild(this: LocalDiscord, id: string): GuildState {
    const guild = this.guilds.get(id);
    if (!guild) throw new Error(`Unknown guild ${id}`);
    return guild;
  }

  channelById(this: LocalDiscord, id: string): ChannelState | undefined {
    for (const guild of this.guilds.values()) {
      const channel = guild.channels.get(id);
      if (channel) return channel;
    }
    for (const channel of this.dmChannels.values()) if (channel.id === id) return channel;
    return this.privateChannels.get(id);
  }

  dmChannelFor(this: LocalDiscord, userId: string): ChannelState {
    let channel = this.dmChannels.get(userId);
    if (!channel) {
      channel = { id: snowflake(), guildId: null, name: '', type: ChannelType.DM, position: 0, recipientId: userId, lastMessageId: null };
      this.dmChannels.set(userId, channel);
    }
    return channel;
  }
}
