/** English words for the branding area (see ../catalogue.ts). */
export default {
} as const;
