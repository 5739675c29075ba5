/** English words for the schedule area (see ../catalogue.ts). */
export default {
} as const;
