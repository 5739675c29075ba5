/** English words for the twitter area (see ../catalogue.ts). */
export default {
} as const;
