/** English words for the avatar area (see ../catalogue.ts). */
export default {
} as const;
