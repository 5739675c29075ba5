import { readFile, writeFile } from 'node:fs/promises';
import { normalizeAvatar, normalizeBanner } from '../avatar/normalize.js';
import { cropOption, parse, UsageError } from './args.js';

export async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `cannot read ${path}: no such file` : `cannot read ${path}: ${code ?? 'read failed'}`);
  }
}

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { crop: { type: 'string' }, background: { type: 'string' }, banner: { type: 'boolean' } }, ['input', 'output']);
  const [input, output] = positionals as [string, string];
  const options = { crop: cropOption(values.crop), background: values.background };
  const bytes = await readInput(input);
  // --banner: the 1500x500 header instead of the 400x400 avatar, through the same checks.
  const avatar = values.banner ? await normalizeBanner(bytes, options) : await normalizeAvatar(bytes, options);
  try {
    await writeFile(output, avatar.data);
  } catch (error) {
    throw new UsageError(`cannot write ${output}: ${(error as NodeJS.ErrnoException).code ?? 'write failed'}`);
  }
  process.stdout.write(`${JSON.stringify({ format: avatar.format, width: avatar.width, height: avatar.height, bytes: avatar.bytes })}\n`);
}
