/** ja words for the schedule area: the same keys as ../en-US/schedule.ts. */
import type english from '../en-US/schedule.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
