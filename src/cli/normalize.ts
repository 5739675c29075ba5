import { readFile, writeFile } from 'node:fs/promises';
import { normalizeAvatar } from '../avatar/normalize.js';
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
  const { values, positionals } = parse(args, { crop: { type: 'string' }, background: { type: 'string' } }, ['input', 'output']);
  const [input, output] = positionals as [string, string];
  const crop = cropOption(values.crop);
  const avatar = await normalizeAvatar(await readInput(input), { crop, background: values.background });
  try {
    await writeFile(output, avatar.data);
  } catch (error) {
    throw new UsageError(`cannot write ${output}: ${(error as NodeJS.ErrnoException).code ?? 'write failed'}`);
  }
  process.stdout.write(`${JSON.stringify({ format: avatar.format, width: avatar.width, height: avatar.height, bytes: avatar.bytes })}\n`);
}
