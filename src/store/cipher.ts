/**
 * AES-256-GCM for secrets at rest. Every value carries the id of the key that sealed it, so a new key
 * can be introduced while the previous one still opens old values (see `avatar-bot rotate-key`).
 *
 * Sealed form: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts). The additional authenticated
 * data binds a value to where it is stored (for example the Discord user and field), so a ciphertext
 * copied into another record does not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { UserFacingError } from '../errors.js';

export const SECRET_ERROR_KINDS = ['wrong-key', 'malformed'] as const;
export class SecretError extends UserFacingError<(typeof SECRET_ERROR_KINDS)[number]> {}

export interface SecretBox {
  /** The id of the key new values are sealed with. */
  currentKeyId: string;
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  /** The id of the key that sealed a value. */
  keyIdOf(sealed: string): string;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update('avatar-bot key id\0').update(key).digest('hex').slice(0, 12);
}

export function generateKey(): string {
  return randomBytes(32).toString('base64');
}

export function createSecretBox(current: Buffer, previous: Buffer[] = []): SecretBox {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previous]) {
    if (key.length !== 32) throw new RangeError('encryption keys must be 32 bytes');
    keys.set(keyId(key), key);
  }
  const currentKeyId = keyId(current);

  function parts(sealed: string): [string, Buffer, Buffer, Buffer] {
    const [version, id, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !id || !iv || !tag || data === undefined) {
      throw new SecretError('malformed');
    }
    return [id, Buffer.from(iv, 'base64url'), Buffer.from(tag, 'base64url'), Buffer.from(data, 'base64url')];
  }

  return {
    currentKeyId,
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(context));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [id, iv, tag, data] = parts(sealed);
      const key = keys.get(id);
      if (!key) {
        throw new SecretError('wrong-key', { keyId: id });
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretError('wrong-key', { keyId: id }, { variant: 'altered' });
      }
    },
    keyIdOf: (sealed) => parts(sealed)[0],
  };
}
