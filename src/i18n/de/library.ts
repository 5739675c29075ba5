/** de words for the library area: the same keys as ../en-US/library.ts. */
import type english from '../en-US/library.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
