import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { formatMegabytes, ImageError, MAX_INPUT_BYTES, normalizeAvatar, normalizeBanner } from '../avatar/normalize.js';
import { cropOption, parse, UsageError } from './args.js';

/**
 * The image file, read only up to the pipeline's input limit: a larger regular file is refused from its
 * size before a byte is read, and a device or pipe (`/dev/zero`) is cut off one byte past the limit
 * rather than read into memory for ever.
 */
export async function readInput(path: string): Promise<Buffer> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    const { size, isFile } = await file.stat().then((stat) => ({ size: stat.size, isFile: stat.isFile() }));
    if (isFile && size > MAX_INPUT_BYTES) throw tooLarge(size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, MAX_INPUT_BYTES + 1 - total));
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_INPUT_BYTES) throw tooLarge(total);
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    throw error instanceof ImageError ? error : unreadable(path, error);
  } finally {
    await file.close();
  }
}

const READ_CHUNK = 1024 * 1024;
const tooLarge = (bytes: number) => new ImageError('too-large', { size: formatMegabytes(bytes), max: formatMegabytes(MAX_INPUT_BYTES) });
function unreadable(path: string, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code;
  return new UsageError(code === 'ENOENT' ? `cannot read ${path}: no such file` : `cannot read ${path}: ${code ?? 'read failed'}`);
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
