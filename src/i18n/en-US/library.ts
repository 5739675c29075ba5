/** English words for the library area (see ../catalogue.ts). */
export default {
} as const;
