/** ja words for the cli area: the same keys as ../en-US/cli.ts. */
import type english from '../en-US/cli.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
