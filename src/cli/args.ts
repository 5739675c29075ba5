import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { UserFacingError } from '../errors.js';
import type { CropMode } from '../avatar/normalize.js';
import { isProfilePart, PROFILE_PARTS, type ProfilePart } from '../profile/parts.js';

export class UsageError extends UserFacingError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}

const CROPS: readonly CropMode[] = ['attention', 'centre', 'contain'];

export function cropOption(value: string | undefined): CropMode | undefined {
  if (value === undefined) return undefined;
  const crop = value === 'center' ? 'centre' : value;
  if (!(CROPS as readonly string[]).includes(crop)) throw new UsageError(`--crop must be one of ${CROPS.join(', ')}, not "${value}"`);
  return crop as CropMode;
}

export function discordUserOption(value: string | undefined): string | undefined {
  if (value !== undefined && !/^\d{15,21}$/.test(value)) throw new UsageError(`--discord-user must be a Discord user id (a 15 to 21 digit number), not "${value}"`);
  return value;
}

/** node:util parseArgs with our usage errors. */
export function parse<const O extends OptionsConfig>(args: string[], options: O, positionals: string[]) {
  let parsed: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (see avatar-bot --help)`);
  }
  if (parsed.positionals.length !== positionals.length) {
    throw new UsageError(`expected ${positionals.length === 0 ? 'no arguments' : positionals.map((p) => `<${p}>`).join(' ')} (see avatar-bot --help)`);
  }
  return parsed;
}

/** `--part`: which part of the profile a command changes; the avatar when not given. */
export function partOption(value: string | undefined): ProfilePart {
  if (value === undefined) return 'avatar';
  if (!isProfilePart(value)) throw new UsageError(`--part must be one of ${PROFILE_PARTS.join(', ')}, not "${value}"`);
  return value;
}
