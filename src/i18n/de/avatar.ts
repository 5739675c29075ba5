/** de words for the avatar area: the same keys as ../en-US/avatar.ts. */
import type english from '../en-US/avatar.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
