/** The refusals of a push or revert as a whole (a member's own failure is a result, see members.ts). */
import { UserFacingError } from '../errors.js';

export const BRANDING_ERROR_KINDS = ['push-running', 'no-members', 'no-push', 'cannot-revert', 'held-elsewhere'] as const;
export type BrandingErrorKind = (typeof BRANDING_ERROR_KINDS)[number];

export class BrandingError extends UserFacingError<BrandingErrorKind> {}
