/** ja words for the common area: the same keys as ../en-US/common.ts. */
import type english from '../en-US/common.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
