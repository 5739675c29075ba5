/** de words for the branding area: the same keys as ../en-US/branding.ts. */
import type english from '../en-US/branding.js';
import type { AreaOf } from '../catalogue.js';

export default {
} satisfies AreaOf<typeof english>;
