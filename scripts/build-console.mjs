/**
 * Builds the operator console (console/) into dist/console/: one minified ES module and one
 * stylesheet under assets/ with content hashes in their names (served as immutable), and
 * index.html naming them. Type-checking is `tsc -p console/tsconfig.json` (npm run build:console
 * runs both). Prints the sizes, gzipped too, so a growing bundle is noticed.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: [join(root, 'console', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: join(out, 'assets'),
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  tsconfig: join(root, 'console', 'tsconfig.json'),
});

const outputs = Object.keys(result.metafile.outputs).map((file) => join(root, file));
const js = outputs.find((file) => file.endsWith('.js'));
const css = outputs.find((file) => file.endsWith('.css'));
if (!js || !css) throw new Error(`console build: expected one .js and one .css, got ${outputs.join(', ')}`);
const html = readFileSync(join(root, 'console', 'index.html'), 'utf8').replace('%JS%', basename(js)).replace('%CSS%', basename(css));
writeFileSync(join(out, 'index.html'), html);

for (const file of [js, css]) {
  const body = readFileSync(file);
  console.log(`console: ${basename(file)} ${(body.length / 1024).toFixed(1)} KiB, ${(gzipSync(body).length / 1024).toFixed(1)} KiB gzipped`);
}
