#!/usr/bin/env node
// `wasmfleet-module build|test|run`: the module kit, bundled into dist/ when the package is packed
// (in the wasmfleet repository: `npm run build:sdk`).
import { existsSync } from 'node:fs';

const kit = new URL('../dist/kit.js', import.meta.url);
if (!existsSync(kit)) {
  process.stderr.write('wasmfleet-module: this copy of @wasmfleet/sdk has no dist/kit.js; in the wasmfleet repository run `npm run build:sdk`\n');
  process.exit(1);
}
await import(kit.href);
