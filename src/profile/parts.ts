/**
 * The parts of an X profile the bot changes. Each part has its own history, its own saved original and
 * its own consent; a kit changes several at once, one recorded change per part.
 */
export const PROFILE_PARTS = ['avatar', 'banner', 'name', 'bio'] as const;
export type ProfilePart = (typeof PROFILE_PARTS)[number];

export type ImagePart = Extract<ProfilePart, 'avatar' | 'banner'>;
export type TextPart = Extract<ProfilePart, 'name' | 'bio'>;

export const isImagePart = (part: ProfilePart): part is ImagePart => part === 'avatar' || part === 'banner';
export const isProfilePart = (value: unknown): value is ProfilePart => (PROFILE_PARTS as readonly unknown[]).includes(value);
