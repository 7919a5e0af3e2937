import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { crc32 } from '../../device-agent/spool/crc32.js';

test('crc32 gives the standard check value and agrees with zlib where this Node has it', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const native = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
  if (!native) return;
  for (const size of [1, 7, 64, 1000, 65536]) {
    const bytes = randomBytes(size);
    assert.equal(crc32(bytes), native(bytes), `${size} bytes`);
  }
});
