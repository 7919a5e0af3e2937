#!/usr/bin/env node
// After tsc: make the CLI entry executable so the package's `bin` works once installed.
import { chmodSync, existsSync } from 'node:fs';

const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
if (existsSync(cli)) chmodSync(cli, 0o755);
