/**
 * Serves the operator console (console/, built by scripts/build-console.mjs into dist/console/) at
 * `/` on the API's own port. Only two routes: the page itself and its content-hashed assets, so
 * every other path (and everything under /api) keeps the API's JSON 404. The page is never cached
 * (it names the current assets); assets are immutable because their names carry their hash.
 * Nothing is read from a path the request names: asset names are looked up in the built folder's
 * listing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fromRoot } from '../../common/paths.js';

export const CONSOLE_DIR = (): string => fromRoot('dist', 'console');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

/** The page talks only to its own origin and runs only its own script. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>wasmfleet</title>
<p>The console is not built. Run <code>npm run build:console</code> (part of <code>npm run build</code>) and reload.
The API is at <code>/api/v1</code>.</p>`;

interface Asset {
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly type: string;
}

const extension = (name: string): string => name.slice(name.lastIndexOf('.'));

export async function consoleRoutes(app: FastifyInstance, dir: string = CONSOLE_DIR()): Promise<void> {
  const assets = new Map<string, Asset>();
  let listed = false;
  const asset = (name: string): Asset | undefined => {
    // Built once per process: names carry content hashes, so a rebuild brings new names.
    if (!listed || !assets.has(name)) {
      const assetsDir = join(dir, 'assets');
      if (!existsSync(assetsDir)) return undefined;
      listed = true;
      for (const file of readdirSync(assetsDir)) {
        const type = CONTENT_TYPES[extension(file)];
        if (!type || assets.has(file)) continue;
        const body = readFileSync(join(assetsDir, file));
        assets.set(file, { body, gzipped: gzipSync(body), type });
      }
    }
    return assets.get(name);
  };

  const page = async (_request: FastifyRequest, reply: FastifyReply) => {
    const file = join(dir, 'index.html');
    reply.headers(PAGE_HEADERS);
    return reply.send(existsSync(file) ? readFileSync(file) : NOT_BUILT);
  };
  app.get('/', { config: { public: true }, schema: { hide: true } }, page);

  app.get<{ Params: { file: string } }>(
    '/assets/:file',
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const found = asset(request.params.file);
      if (!found) return reply.callNotFound();
      const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
      reply.headers({
        'content-type': found.type,
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
        vary: 'accept-encoding',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
      return reply.send(gzip ? found.gzipped : found.body);
    },
  );
}
