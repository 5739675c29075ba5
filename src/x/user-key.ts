/**
 * Which X user a request was for, without the token: X counts its rate limits per user (per access token),
 * so the bot keys what it learns of them by a hash of the token. A SHA-256 of a high-entropy token cannot
 * be turned back into it, and 16 bytes of it are enough to tell tokens apart.
 */
import { createHash } from 'node:crypto';

export function xUserKey(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url').slice(0, 22);
}
