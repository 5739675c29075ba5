/** English words for the cli area (see ../catalogue.ts). */
export default {
} as const;
