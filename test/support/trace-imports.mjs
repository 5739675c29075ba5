// `node --import ./trace-imports.mjs …` prints every module URL the process loads to stderr as
// `import: <url>`, so a test can check what a command pulls in at start-up.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      export async function load(url, context, next) {
        process.stderr.write('import: ' + url + '\\n');
        return next(url, context);
      }
    `),
);
