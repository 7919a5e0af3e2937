#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's own test runner, two files at a time.
// Node 20's runner takes no globs, so the files are listed here. Pass a substring to run only
// matching files.
//
// Through run() rather than `node --test FILES`: the command line sorts the files it is given,
// and the order decides which files share the machine (each slot takes the next file when its
// current one ends).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';

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

// The fault suites that run a whole platform as processes (a server or a Redis cluster, several
// agents, each killed and restarted many times) are the heaviest. Sorted, they would start side
// by side in the two slots; each goes instead to its own evenly spaced
// place in the list, so it runs beside a stream of lighter files. Longest first.
const APART = ['e2e/cluster-processes.test.js', 'e2e/cluster-chaos.test.js', 'e2e/hub-chaos.test.js', 'e2e/chaos.test.js', 'e2e/hub-rollout-outage.test.js'];

function spreadApart(sorted) {
  const apart = APART.map((name) => join(root, name)).filter((file) => sorted.includes(file));
  const rest = sorted.filter((file) => !apart.includes(file));
  apart.forEach((file, i) => rest.splice(Math.round(((i + 1) * rest.length) / (apart.length + 1)), 0, file));
  return rest;
}

const files = spreadApart(collect(root).sort());
if (files.length === 0) {
  console.error(`no test files found under ${root}${filter ? ` matching '${filter}'` : ''}; run npm run build first`);
  process.exit(1);
}
// As `node --test` does: spec on a terminal, TAP otherwise; any failure but a todo fails the run.
const stream = run({ files, concurrency: 2 });
stream.on('test:fail', (data) => {
  if (!data.todo) process.exitCode = 1;
});
stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
