/** de words for the twitter area: the same keys as ../en-US/twitter.ts. */
import type english from '../en-US/twitter.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
