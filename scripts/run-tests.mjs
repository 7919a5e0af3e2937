#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's own test runner. Node 20's runner
// takes no globs, so the files are listed here. Pass a substring to run only matching files.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const filter = process.argv[2];

function collect(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) found.push(...collect(full));
    else if (name.endsWith('.test.js') && (!filter || full.includes(filter))) found.push(full);
  }
  return found;
}

const files = collect(root).sort();
if (files.length === 0) {
  console.error(`no test files found under ${root}${filter ? ` matching '${filter}'` : ''}; run npm run build first`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
