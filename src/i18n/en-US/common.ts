/** English words for the common area (see ../catalogue.ts). */
export default {
} as const;
