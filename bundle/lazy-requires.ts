/**
 * Keeps the bundled agent from loading Node built-ins that only optional features use. mqtt.js
 * builds its table of transports on the first connect by requiring every one of them, so a plain
 * `mqtt://` agent would load `ws` (http, https, zlib), `tls` and the SOCKS client (socks, dns,
 * assert): ~2 MiB of resident memory on a gateway for code that never runs. The rewrites below
 * turn those requires into calls made when a transport is first used, so `ws://`, `wss://`,
 * `mqtts://` and `MQTTJS_SOCKS_PROXY` keep working and load what they need then. mqtt's Web
 * Worker timers (browser only) are likewise loaded only if a client asks for them.
 *
 * Each rewrite names the exact text it expects and how often: the build fails when mqtt's code
 * stops matching (an upgrade), rather than shipping an agent that loads everything again or
 * cannot connect.
 */
import { readFileSync } from 'node:fs';
import type { Plugin } from 'esbuild';

export interface LazyRewrite {
  /** Matches the absolute path of the file to rewrite. */
  readonly file: RegExp;
  readonly find: string;
  readonly replace: string;
  readonly count: number;
}

export const LAZY_REWRITES: readonly LazyRewrite[] = [
  {
    file: /node_modules[\\/]mqtt[\\/]build[\\/]lib[\\/]connect[\\/]index\.js$/,
    find: "require('./ws').streamBuilder;",
    replace: "(client, opts) => require('./ws').streamBuilder(client, opts);",
    count: 2,
  },
  {
    file: /node_modules[\\/]mqtt[\\/]build[\\/]lib[\\/]connect[\\/]index\.js$/,
    find: "require('./tls').default;",
    replace: "(client, opts) => require('./tls').default(client, opts);",
    count: 2,
  },
  {
    file: /node_modules[\\/]mqtt[\\/]build[\\/]lib[\\/]connect[\\/]tcp\.js$/,
    find: 'const socks_1 = __importDefault(require("./socks"));',
    replace: 'const socks_1 = { default: (...args) => __importDefault(require("./socks")).default(...args) };',
    count: 1,
  },
  // The browser's timers in a Web Worker; Node uses setInterval unless a client asks for 'worker'.
  {
    file: /node_modules[\\/]mqtt[\\/]build[\\/]lib[\\/]get-timer\.js$/,
    find: 'const worker_timers_1 = require("worker-timers");',
    replace: 'const worker_timers_1 = { setInterval: (...args) => require("worker-timers").setInterval(...args), clearInterval: (...args) => require("worker-timers").clearInterval(...args) };',
    count: 1,
  },
];

/** Applies the rewrites for one file; returns the problems instead when a pattern does not match. */
export function applyLazyRewrites(path: string, source: string, rewrites: readonly LazyRewrite[] = LAZY_REWRITES): { contents: string } | { problems: string[] } {
  let contents = source;
  const problems: string[] = [];
  for (const rewrite of rewrites) {
    if (!rewrite.file.test(path)) continue;
    const found = contents.split(rewrite.find).length - 1;
    if (found !== rewrite.count) problems.push(`expected ${rewrite.count} × ${rewrite.find} in ${path}, found ${found}`);
    else contents = contents.split(rewrite.find).join(rewrite.replace);
  }
  return problems.length > 0 ? { problems } : { contents };
}

export function lazyRequiresPlugin(rewrites: readonly LazyRewrite[] = LAZY_REWRITES): Plugin {
  return {
    name: 'wasmfleet-lazy-requires',
    setup(b) {
      const files = new Set(rewrites.map((rewrite) => rewrite.file.source));
      const filter = new RegExp([...files].map((source) => `(?:${source})`).join('|'));
      const seen = new Set<string>();
      b.onLoad({ filter }, (args) => {
        const result = applyLazyRewrites(args.path, readFileSync(args.path, 'utf8'), rewrites);
        if ('problems' in result) return { errors: result.problems.map((text) => ({ text })) };
        for (const rewrite of rewrites) if (rewrite.file.test(args.path)) seen.add(rewrite.file.source);
        return { contents: result.contents, loader: 'js' };
      });
      // A file that moved would never reach onLoad: that must fail too.
      b.onEnd((result) => {
        if (result.errors.length > 0) return;
        const missing = [...files].filter((source) => !seen.has(source));
        seen.clear();
        if (missing.length > 0) result.errors.push({ id: '', pluginName: 'wasmfleet-lazy-requires', text: `no bundled file matched ${missing.join(', ')}`, location: null, notes: [], detail: undefined });
      });
    },
  };
}
